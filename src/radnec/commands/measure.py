"""``radnec measure``: lesion volumes, RANO-BM diameters, edema ratio and pattern at one time point."""

from __future__ import annotations

from pathlib import Path
from typing import Optional

import typer

HELP = (
    "Measure one lesion on a post-contrast T1 (--image): enhancing, necrotic and edema volumes (cm³), "
    "RANO-BM longest axial diameter and its perpendicular (mm, measurable or not), edema/enhancement "
    "ratio (Leeman 2013), necrotic fraction, solid vs rim pattern, lesion quotient (with --t2) and "
    "sphericity. Give a segmentation (--seg with --labels brats-2021 | brats-mets | aurora | binary | "
    "'enhancing=4,necrotic=1,edema=2'; NIfTI/NRRD label map or DICOM SEG) or a seed point inside the "
    "lesion (--seed x,y,z in LPS mm, as DICOM viewers show them) for the semi-automatic segmentation. "
    "FLAIR/T2/segmentation must be on the T1c grid unless --resample is given (identity transform: same "
    "patient frame). Review semi-automatic masks (--save-masks DIR)."
)


def command(
    image: Path = typer.Option(..., "--image", help="post-contrast T1 (NIfTI/NRRD/MHA or a DICOM series folder)"),
    flair: Optional[Path] = typer.Option(None, "--flair", help="FLAIR (edema); same grid or --resample"),
    t2: Optional[Path] = typer.Option(None, "--t2", help="T2 (lesion quotient); same grid or --resample"),
    seg: Optional[Path] = typer.Option(None, "--seg", help="label map (NIfTI/NRRD) or DICOM SEG file"),
    labels: str = typer.Option("brats-mets", "--labels", help="label convention of --seg (or SEG segment mapping 'enhancing=Enhancing,edema=Edema')"),
    seed: Optional[str] = typer.Option(None, "--seed", help="seed point x,y,z (LPS mm) inside the lesion"),
    box: Optional[str] = typer.Option(None, "--box", help="x0,y0,z0,x1,y1,z1 (LPS mm) bounding the lesion (with --seed)"),
    resample: bool = typer.Option(False, "--resample", help="resample FLAIR/T2/label map onto the T1c grid (identity transform)"),
    date: Optional[str] = typer.Option(None, "--date", help="MRI date YYYY-MM-DD (reported only)"),
    days: Optional[int] = typer.Option(None, "--days-since-srs", help="days since the first SRS fraction"),
    steroid: Optional[float] = typer.Option(None, "--steroid-mg", help="dexamethasone mg/day at this MRI"),
    save_masks: Optional[Path] = typer.Option(None, "--save-masks", help="write the masks (NIfTI, LPS) into this folder"),
    as_json: bool = typer.Option(False, "--json", help="print JSON (measures + observations)"),
) -> None:
    """Measure one lesion at one time point."""
    import SimpleITK as sitk

    from radnec.errors import InputError
    from radnec.geometry import parse_point, resample as resample_image, same_grid
    from radnec.lesion import labels as lab
    from radnec.lesion.longitudinal import observations
    from radnec.lesion.morphology import measure_timepoint
    from radnec.lesion.segment import segment_from_seed

    if (seg is None) == (seed is None):
        raise InputError("give exactly one of --seg (a segmentation) or --seed x,y,z (semi-automatic)")
    if box is not None and seed is None:
        raise InputError("--box needs --seed")
    t1c = _read_image(image)

    def on_grid(path: Path | None, what: str):  # noqa: ANN202
        if path is None:
            return None
        img = _read_image(path)
        if not same_grid(img, t1c):
            if not resample:
                from radnec.errors import GeometryError

                raise GeometryError(
                    f"the {what} is on a different grid from the T1c (size {img.GetSize()} vs {t1c.GetSize()}, "
                    f"spacing {tuple(round(s, 3) for s in img.GetSpacing())} vs "
                    f"{tuple(round(s, 3) for s in t1c.GetSpacing())} mm); pass --resample to resample it onto the "
                    "T1c grid (same patient frame assumed) or register it first (radnec fuse)",
                    path=path,
                )
            img = resample_image(sitk.Cast(img, sitk.sitkFloat32), t1c, interpolator=sitk.sitkLinear)
        return img

    fl = on_grid(flair, "FLAIR")
    t2img = on_grid(t2, "T2")
    if seg is not None:
        comps = _compartments_from_seg_path(seg, labels, t1c, resample=resample)
        if comps.enhancing is None:
            try:
                comps = lab.split_lesion_by_enhancement(comps, t1c)
            except InputError as exc:
                comps.notes.append(f"enhancing/necrotic not separated ({exc})")
    else:
        point = parse_point(seed)  # type: ignore[arg-type]
        box_pts = None
        if box is not None:
            vals = [v for v in box.replace(" ", "").split(",") if v]
            if len(vals) != 6:
                raise InputError(f"--box needs six numbers x0,y0,z0,x1,y1,z1 (LPS mm), got {box!r}")
            try:
                nums = [float(v) for v in vals]
            except ValueError as exc:
                raise InputError(f"--box needs numbers, got {box!r}") from exc
            box_pts = (nums[:3], nums[3:])
        comps = segment_from_seed(t1c, point, flair=fl, box_lps=box_pts)
    if fl is not None and comps.edema is None and seg is not None:
        comps.notes.append("the segmentation has no edema label; FLAIR was not used")
    measures = measure_timepoint(comps, t2=t2img, date=date, days_since_srs=days, steroid_mg_per_day=steroid)
    if save_masks is not None:
        save_masks.mkdir(parents=True, exist_ok=True)
        for name, mask in comps.masks().items():
            sitk.WriteImage(mask, str(save_masks / f"{name}.nii.gz"), useCompression=True)
    obs = observations(measures)
    if as_json:
        from radnec import DISCLAIMER
        from radnec.jsonio import print_json

        print_json({"timepoint": measures, "observations": obs, "disclaimer": DISCLAIMER})
        return
    _print_table(measures)


def _read_image(path: Path):  # noqa: ANN202
    from radnec.errors import InputError

    if path.is_dir():
        from radnec.ingest.series import read_series

        return read_series(path)
    from radnec.ingest.nifti import read_volume

    img = read_volume(path)
    if img.GetDimension() != 3:
        raise InputError(f"expected a 3-D image, got {img.GetDimension()}-D", path=path)
    return img


def _compartments_from_seg_path(path: Path, labels: str, t1c, *, resample: bool):  # noqa: ANN001, ANN202
    from radnec.lesion import labels as lab

    if not path.exists():
        from radnec.errors import InputError

        raise InputError("segmentation not found", path=path)
    if _is_dicom(path):
        mapping = {}
        for item in labels.split(","):
            key, _, val = item.partition("=")
            if not val:
                from radnec.errors import InputError

                raise InputError(
                    "for a DICOM SEG give --labels as compartment=segment pairs, e.g. 'enhancing=Enhancing,edema=Edema' "
                    "or 'lesion=1'",
                    path=path,
                )
            mapping[key.strip().lower()] = val.strip()
        return lab.compartments_from_seg(path, t1c, segments=mapping)
    label_map = lab.read_label_map(path)
    return lab.compartments_from_label_map(
        label_map, labels, reference=t1c, resample_to_reference=resample, source=path.name
    )


def _is_dicom(path: Path) -> bool:
    try:
        with open(path, "rb") as fh:
            fh.seek(128)
            return fh.read(4) == b"DICM"
    except OSError:
        return False


def _print_table(m) -> None:  # noqa: ANN001
    from rich.table import Table

    from radnec import DISCLAIMER
    from radnec.commands._output import stdout_console

    def f(v, unit=""):  # noqa: ANN001, ANN202
        if v is None:
            return "—"
        if isinstance(v, float):
            return f"{v:.2f}{unit}"
        return f"{v}{unit}"

    t = Table(title="Lesion measures", show_header=True)
    t.add_column("measure")
    t.add_column("value")
    rows = [
        ("T1c lesion", f(m.lesion_cc, " cm³")),
        ("enhancing", f(m.enhancing_cc, " cm³")),
        ("necrotic/cystic core", f(m.necrotic_cc, " cm³")),
        ("edema (outside lesion)", f(m.edema_cc, " cm³")),
        ("longest axial diameter", f(m.longest_diameter_mm, " mm")),
        ("perpendicular diameter", f(m.perpendicular_diameter_mm, " mm")),
        ("RANO-BM", m.measurability),
        ("edema / T1c lesion volume ratio (Leeman 2013)", f(m.edema_enhancement_ratio)),
        ("edema / enhancing volume ratio (information)", f(m.edema_to_enhancing_ratio)),
        ("necrotic fraction", f(m.necrotic_fraction)),
        ("enhancement pattern", f(m.enhancement_pattern)),
        ("lesion quotient (uninformative, Stockham 2012)", f(m.lesion_quotient)),
        ("sphericity", f(m.sphericity)),
        ("segmentation", m.segmentation_source),
    ]
    for r in rows:
        t.add_row(*r)
    con = stdout_console()
    con.print(t)
    for n in m.notes:
        con.print(f"note: {n}")
    con.print(DISCLAIMER)
