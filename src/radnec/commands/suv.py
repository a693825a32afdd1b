"""``radnec suv``: body-weight SUV of a PET series, and lesion SUV/TBR when a mask is given."""

from __future__ import annotations

from pathlib import Path

import typer

HELP = (
    "Body-weight SUV from PET DICOM headers (QIBA logic: decay correction START/ADMIN/NONE, BQML, "
    "Philips CNTS private factors, GE/Siemens scan-time rules). With --lesion, SUVmax/SUVmean in the "
    "lesion and TBRmax/TBRmean against the lesion mirrored across the mid-sagittal plane (or --background), "
    "compared with cited tracer-specific thresholds (FET, MET)."
)


def command(
    pet: Path = typer.Option(..., "--pet", help="A PET DICOM file or a folder with one PET series."),
    lesion: Path | None = typer.Option(None, "--lesion", help="Lesion mask (NIfTI/NRRD/...) on the PET grid."),
    background: Path | None = typer.Option(None, "--background", help="Background mask on the PET grid."),
    tracer: str | None = typer.Option(None, "--tracer", help="Override the tracer: FDG, FET, MET, FDOPA, FLT."),
    weight_kg: float | None = typer.Option(None, "--weight-kg", help="Patient weight (kg) if the header lacks it."),
    resample_masks: bool = typer.Option(
        False, "--resample-masks",
        help="Resample masks given on another grid of the SAME frame of reference onto the PET grid.",
    ),
    as_json: bool = typer.Option(False, "--json", help="Print the result as JSON."),
) -> None:
    """Compute SUVbw (and lesion statistics)."""
    import numpy as np
    import SimpleITK as sitk

    from radnec.jsonio import print_json
    from radnec.commands._output import stdout_console
    from radnec.errors import InputError
    from radnec.imaging.pet import load_pet_suv, pet_lesion_stats

    def read_mask(path: Path, what: str):
        if not path.is_file():
            raise InputError(f"{what} mask not found", path=path)
        try:
            img = sitk.ReadImage(str(path))
        except RuntimeError as exc:
            raise InputError(f"cannot read the {what} mask: {str(exc).splitlines()[0]}", path=path) from None
        return sitk.Cast(img > 0, sitk.sitkUInt8)

    if tracer is not None and tracer.upper() not in ("FDG", "FET", "MET", "FDOPA", "FLT"):
        raise InputError(f"--tracer {tracer!r} is not one of FDG, FET, MET, FDOPA, FLT")
    res = load_pet_suv(pet, weight_kg=weight_kg, tracer=tracer)
    arr = sitk.GetArrayViewFromImage(res.suv)
    out: dict = {
        "pet": str(pet),
        "units": res.units,
        "tracer": res.tracer,
        "slices": len(res.files),
        "suv_factor": res.factors[0].factor,
        "suv_factor_rule": res.factors[0].rule,
        "decay_time_s": res.factors[0].decay_time_s,
        "image_suv_max": float(np.max(arr)),
    }
    if lesion is not None:
        from radnec.imaging.masks import mask_on_grid

        les = read_mask(lesion, "lesion")
        bg = read_mask(background, "background") if background is not None else None
        if resample_masks:
            les = mask_on_grid(les, res.suv, what="lesion mask")
            bg = mask_on_grid(bg, res.suv, what="background mask") if bg is not None else None
        out["lesion"] = pet_lesion_stats(res.suv, les, background=bg, tracer=res.tracer)
    if as_json:
        print_json(out)
        return
    con = stdout_console()
    con.print(f"PET {pet}: units {res.units}, tracer {res.tracer or 'unknown'}, {len(res.files)} slice(s)")
    con.print(f"SUVbw factor {out['suv_factor']:.6g} g/Bq ({out['suv_factor_rule']})")
    con.print(f"image SUVmax {out['image_suv_max']:.2f}")
    if "lesion" in out:
        s = out["lesion"]
        con.print(
            f"lesion SUVmax {s['suv_max']:.2f}, SUVmean {s['suv_mean']:.2f}; background ({s['background']}) "
            f"SUVmean {s['background_suv_mean']:.2f}; TBRmax {s['tbr_max']:.2f}, TBRmean {s['tbr_mean']:.2f}"
        )
        for o in s["observations"]:
            if o["threshold"] and o["threshold"]["threshold"] is not None:
                t = o["threshold"]
                con.print(
                    f"  {o['name']} {o['value']:.2f} vs {t['threshold']} ({t['direction']} = tumour-like, "
                    f"{t['population']}; {t['citation'][:60]}...) -> {'tumour-like' if o['tumour_like'] else 'necrosis-like'}"
                )
