"""``radnec fuse``: register a follow-up MRI to the planning MRI and write transforms, quality,
an overlay picture and DICOM REG objects."""

from __future__ import annotations

from pathlib import Path
from typing import Optional

import typer

HELP = (
    "Fuse a follow-up MRI (--moving) onto the planning frame (--fixed): rigid (Mattes mutual "
    "information), then a deformable refinement around the lesion when --mask (follow-up lesion + "
    "oedema, excluded from the similarity) or --lesion-center is given: itk-elastix B-spline by default, "
    "SimpleITK demons with --engine demons. Same frame of "
    "reference: verified, not re-registered; --reg FILE: a DICOM Spatial Registration is used as the "
    "rigid part. Writes OUT/fusion.json (method, quality, poor_quality flag), rigid.tfm, "
    "deformation.h5, overlay.png, followup_on_planning.nii.gz and, for DICOM input, reg_rigid.dcm / "
    "reg_deformable.dcm (--deidentify replaces the patient name/ID in them by a pseudonym). "
    "Transform convention: planning (LPS mm) -> follow-up."
)


def _load(path: Path, *, what: str):  # noqa: ANN202 - returns (sitk.Image, frame uid or None, dataset or None)
    from radnec.ingest.image import load_image

    loaded = load_image(path, what=what)
    ref = None
    if loaded.files:
        import pydicom

        ref = pydicom.dcmread(loaded.files[0], stop_before_pixels=True)
    return loaded.image, loaded.frame_of_reference_uid, ref


def _load_mask(path: Path, *, what: str):  # noqa: ANN202
    import SimpleITK as sitk

    img, _, _ = _load(path, what=what)
    return sitk.Cast(img > 0, sitk.sitkUInt8)


def command(
    fixed: Path = typer.Option(..., "--fixed", help="Planning MRI: DICOM series folder or NIfTI/NRRD file."),
    moving: Path = typer.Option(..., "--moving", help="Follow-up MRI: DICOM series folder or NIfTI/NRRD file."),
    out: Path = typer.Option(..., "--out", help="Output folder (created)."),
    mask: Optional[Path] = typer.Option(
        None, "--mask", help="Follow-up lesion + oedema mask (NIfTI/NRRD on the follow-up grid), kept out of the similarity."
    ),
    fixed_mask: Optional[Path] = typer.Option(
        None, "--fixed-mask", help="Planning lesion mask (NIfTI/NRRD on the planning grid), kept out of the similarity."
    ),
    lesion_center: Optional[str] = typer.Option(
        None, "--lesion-center", help="Centre of the deformable region, planning frame, 'x,y,z' LPS mm."
    ),
    reg: Optional[Path] = typer.Option(None, "--reg", help="DICOM Spatial Registration to use as the rigid part."),
    rigid_only: bool = typer.Option(False, "--rigid-only", help="Skip the deformable refinement."),
    inverse_consistency: bool = typer.Option(
        False, "--inverse-consistency", help="Also register backwards and report the inverse-consistency error."
    ),
    engine: str = typer.Option("elastix", "--engine", help="Deformable engine: elastix (default) or demons."),
    deidentify: bool = typer.Option(
        False,
        "--deidentify",
        help="In the DICOM REG files, replace patient name and ID by a pseudonym, empty birth date, sex, "
        "accession number, referring physician, study ID and study date/time, and put a dummy content date "
        "(UIDs kept, so the REG still attaches).",
    ),
    pseudonym: Optional[str] = typer.Option(None, "--pseudonym", help="Pseudonym for --deidentify (default: random)."),
    as_json: bool = typer.Option(False, "--json", help="Print the fusion summary as JSON on stdout."),
) -> None:
    """Fuse a follow-up MRI onto the planning frame."""
    import logging

    import numpy as np
    import SimpleITK as sitk

    from radnec.jsonio import print_json
    from radnec.errors import FrameOfReferenceError
    from radnec.fuse import dicom_reg, quality, transforms
    from radnec.fuse.fusion import fuse
    from radnec.geometry import parse_point

    if engine not in ("elastix", "demons"):
        from radnec.errors import InputError

        raise InputError(f"--engine must be 'elastix' or 'demons', not {engine!r}")
    if pseudonym is not None and (not deidentify or not pseudonym.strip()):
        from radnec.errors import InputError

        raise InputError("--pseudonym needs --deidentify and a non-empty value")
    fixed_img, fixed_uid, fixed_ds = _load(fixed, what="fixed (planning) image")
    moving_img, moving_uid, _ = _load(moving, what="moving (follow-up) image")
    moving_mask = _load_mask(mask, what="follow-up lesion mask") if mask else None
    planning_mask = _load_mask(fixed_mask, what="planning lesion mask") if fixed_mask else None
    if moving_mask is not None:
        from radnec.geometry import require_same_grid

        require_same_grid(moving_img, moving_mask, what=f"follow-up image and lesion mask {mask}")
    if planning_mask is not None:
        from radnec.geometry import require_same_grid

        require_same_grid(fixed_img, planning_mask, what=f"planning image and lesion mask {fixed_mask}")
    centre = np.asarray(parse_point(lesion_center)) if lesion_center else None
    registration = None
    if reg is not None:
        from radnec.ingest.reg import read_registration, rigid_transform

        if not fixed_uid or not moving_uid:
            raise FrameOfReferenceError(
                "--reg needs DICOM series for --fixed and --moving (their FrameOfReferenceUIDs select the matrices)",
                path=reg,
            )
        registration = rigid_transform(read_registration(reg), fixed_frame_uid=fixed_uid, moving_frame_uid=moving_uid)

    result = fuse(
        fixed_img,
        moving_img,
        fixed_frame_uid=fixed_uid,
        moving_frame_uid=moving_uid,
        registration=registration,
        moving_lesion_mask=moving_mask,
        fixed_lesion_mask=planning_mask,
        lesion_center_lps=centre,
        deformable=not rigid_only,
        inverse_consistency=inverse_consistency,
        engine=engine,
    )
    out.mkdir(parents=True, exist_ok=True)
    json_path = transforms.save(result, out)
    written = {"fusion_json": str(json_path)}
    overlay_centre = centre
    if overlay_centre is None and planning_mask is not None:
        from radnec.geometry import mask_centroid_lps

        overlay_centre = mask_centroid_lps(planning_mask)
    written["overlay_png"] = str(
        quality.overlay_png(fixed_img, moving_img, result.transform, out / "overlay.png", center_lps=overlay_centre, title=result.method)
    )
    warped = transforms.apply_to_image(result, moving_img, fixed_img)
    sitk.WriteImage(warped, str(out / "followup_on_planning.nii.gz"))
    written["followup_on_planning"] = str(out / "followup_on_planning.nii.gz")
    if fixed_uid and moving_uid and fixed_uid != moving_uid:
        for k, p in dicom_reg.write_registrations(
            result, out, reference=fixed_ds, deidentify=deidentify, pseudonym=pseudonym
        ).items():
            written[f"dicom_reg_{k}"] = str(p)
    for w in result.warnings:
        logging.getLogger("radnec.fuse").warning(w)
    summary = {**result.to_json(), "files": written}
    if as_json:
        print_json(summary)
        return
    q = result.quality
    typer.echo(f"method: {result.method}")
    typer.echo(f"NMI before -> after: {q['nmi_before']:.3f} -> {q['nmi_after']:.3f}; head Dice {q['foreground_dice']:.3f}")
    if q.get("jacobian_min") is not None:
        typer.echo(
            f"Jacobian [{q['jacobian_min']:.2f}, {q['jacobian_max']:.2f}], folded {100 * q['folded_fraction']:.3f} %"
        )
    typer.echo("quality: POOR — " + "; ".join(q["failed_checks"]) if q["poor_quality"] else "quality: ok")
    typer.echo(f"written to {out}")
