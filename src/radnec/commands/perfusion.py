"""``radnec perfusion``: DSC rCBV, PSR and peak height in a lesion."""

from __future__ import annotations

from pathlib import Path

import typer

HELP = (
    "DSC perfusion from a 4-D series (NIfTI 4-D with --te-ms/--tr-s or a BIDS sidecar, or a DICOM "
    "multi-temporal folder): automatic pre-bolus baseline, ΔR2*, Boxerman-Weisskoff leakage correction, CBV "
    "by integration over the first pass (or SVD deconvolution with --aif), rCBV normalised to contralateral "
    "white matter (lesion mirrored across the mid-sagittal plane, or --wm), lesion rCBVmean/rCBVmax, PSR and "
    "peak height, compared with cited thresholds (Barajas 2009: rCBV 1.54, PSR 76.3 %)."
)


def command(
    dsc: Path = typer.Option(..., "--dsc", help="4-D DSC series: NIfTI file or DICOM folder."),
    lesion: Path = typer.Option(..., "--lesion", help="Lesion mask on the DSC grid (NIfTI/NRRD)."),
    wm: Path | None = typer.Option(None, "--wm", help="Reference white-matter mask on the DSC grid."),
    brain: Path | None = typer.Option(None, "--brain", help="Brain mask on the DSC grid (default: Otsu)."),
    aif: Path | None = typer.Option(None, "--aif", help="Arterial-input mask: CBV/CBF by SVD deconvolution."),
    te_ms: float | None = typer.Option(None, "--te-ms", help="Echo time (ms) if the file lacks it."),
    tr_s: float | None = typer.Option(None, "--tr-s", help="Frame interval (s) if the file lacks it."),
    no_leakage_correction: bool = typer.Option(False, "--no-leakage-correction", help="Skip Boxerman-Weisskoff."),
    resample_masks: bool = typer.Option(
        False, "--resample-masks",
        help="Resample masks given on another grid of the SAME frame of reference (e.g. the T1c) onto the DSC grid.",
    ),
    save_rcbv: Path | None = typer.Option(None, "--save-rcbv", help="Write the rCBV map (NIfTI/NRRD)."),
    as_json: bool = typer.Option(False, "--json", help="Print the result as JSON."),
) -> None:
    """Quantify DSC perfusion in a lesion."""
    import SimpleITK as sitk

    from radnec.jsonio import print_json
    from radnec.commands._output import stdout_console
    from radnec.errors import InputError
    from radnec.ingest.dsc import read_dsc
    from radnec.imaging.perfusion import analyze_dsc

    def read_mask(path: Path | None, what: str):
        if path is None:
            return None
        if not path.is_file():
            raise InputError(f"{what} mask not found", path=path)
        try:
            img = sitk.ReadImage(str(path))
        except RuntimeError as exc:
            raise InputError(f"cannot read the {what} mask: {str(exc).splitlines()[0]}", path=path) from None
        if img.GetDimension() != 3:
            raise InputError(f"the {what} mask must be 3-D, it is {img.GetDimension()}-D", path=path)
        return sitk.Cast(img > 0, sitk.sitkUInt8)

    from radnec.imaging.masks import mask_on_grid

    series = read_dsc(dsc, te_ms=te_ms, tr_s=tr_s)

    def on_grid(path: Path | None, what: str):
        m = read_mask(path, what)
        if m is None or not resample_masks:
            return m
        return mask_on_grid(m, series.reference, what=f"{what} mask")

    les = on_grid(lesion, "lesion")
    aif_mask = on_grid(aif, "AIF")
    res = analyze_dsc(
        series,
        lesion=les,
        white_matter=on_grid(wm, "white-matter"),
        brain=on_grid(brain, "brain"),
        aif=aif_mask,
        leakage_correction=not no_leakage_correction,
        method="deconvolution" if aif_mask is not None else "integration",
    )
    if save_rcbv is not None:
        sitk.WriteImage(res.rcbv, str(save_rcbv))
    out = {
        "dsc": str(dsc),
        "frames": int(series.signal.shape[0]),
        "frame_interval_s": series.dt_s,
        "echo_time_ms": series.te_s * 1000.0,
        **res.summary(),
    }
    if as_json:
        print_json(out)
        return
    con = stdout_console()
    con.print(
        f"DSC {dsc}: {out['frames']} frames, Δt {out['frame_interval_s']:.2f} s, TE {out['echo_time_ms']:.1f} ms; "
        f"baseline frames {res.baseline[0]}-{res.baseline[1] - 1}, integration frames {res.window[0]}-{res.window[1] - 1}"
    )
    con.print(f"reference: {res.reference_how}")
    s = res.lesion
    con.print(
        f"lesion rCBVmean {s['rcbv_mean']:.2f}, rCBVmax {s['rcbv_max']:.2f}, PSR {s['psr_pct']:.1f} %, "
        f"peak height {s['peak_height_pct']:.1f} % (ΔR2* {s['peak_delta_r2s_per_s']:.1f} /s"
        + (f", rPH {s['relative_peak_height']:.2f}" if s.get("relative_peak_height") is not None else "")
        + ")"
    )
    for o in res.observations:
        t = o["threshold"]
        if t and t["threshold"] is not None:
            verdict = "tumour-like" if o["tumour_like"] else "necrosis-like"
            con.print(f"  {o['name']} {o['value']:.2f} vs {t['threshold']} ({t['direction']} = tumour-like, "
                      f"{t['population']}) -> {verdict}")
