"""Stage 1, inputs: the case folder's inventory and images (saved), then the timeline (every run).

The saved part is keyed by the folder's path and the SHA-256 of every file in it: the header scan and
the decoding of every MR series happen once. The RT objects are small and re-read each run; the
clinical file and the SRS date it gives are applied each run, so a changed clinical file reuses
every image.
"""

from __future__ import annotations

import datetime as dt
import os
from dataclasses import asdict
from pathlib import Path
from typing import Any

import SimpleITK as sitk

from radnec.errors import FrameOfReferenceError, InputError, MissingReferenceError, UnitsError
from radnec.pipeline.persist import load_image, load_json, save_image, save_json
from radnec.pipeline.state import CaseInputs, Study
from radnec.pipeline.workspace import Keyed, Workspace, file_sha256

#: DoseSummationType values that mean "the whole plan's dose".
PLAN_DOSE_SUMMATION_TYPES = ("PLAN", "MULTI_PLAN")
#: MR sequences loaded from each study (T1c is required).
SEQUENCES = ("T1c", "FLAIR", "T2")


def _files_of(case_dir: Path) -> dict[str, str]:
    """Relative path → SHA-256 of every regular file under ``case_dir`` (links followed, loops not)."""
    out: dict[str, str] = {}
    seen: set[tuple[int, int]] = set()
    for root, dirs, files in os.walk(case_dir, followlinks=True):
        st = os.stat(root)
        if (st.st_dev, st.st_ino) in seen:  # a symlink loop: this folder was walked already
            dirs[:] = []
            continue
        seen.add((st.st_dev, st.st_ino))
        dirs.sort()
        for name in sorted(files):
            path = Path(root) / name
            if path.is_file():
                out[str(path.relative_to(case_dir))] = file_sha256(path)
    return out


def _rel(path: str | Path, case_dir: Path) -> str:
    p = Path(path)
    return str(p.relative_to(case_dir)) if p.is_relative_to(case_dir) else p.name


def _scan_and_load(case_dir: Path) -> dict[str, Any]:
    """The expensive part: header scan of every file and decoding of the MR series radnec uses."""
    from radnec.discover import find_case
    from radnec.geometry import resample, same_grid
    from radnec.ingest.scan import scan
    from radnec.ingest.series import load_series

    from radnec.imaging.collect import find_advanced_series

    inv = scan(case_dir)
    layout = find_case(inv)
    studies: dict[str, Any] = {}
    for study in [layout.planning, *layout.followups]:
        t1c = load_series(study.series["T1c"]).image
        entry: dict[str, Any] = {"T1c": t1c, "notes": []}
        for seq in ("FLAIR", "T2"):
            if seq not in study.series:
                if seq == "FLAIR":
                    entry["notes"].append("no FLAIR series — edema and the edema/enhancement ratio are not measured")
                continue
            if study.series[seq].frame_of_reference_uid != study.series["T1c"].frame_of_reference_uid:
                entry["notes"].append(f"{seq} is in another frame of reference than the T1c; not used")
                continue
            img = load_series(study.series[seq]).image
            # Same frame of reference: the scanner coordinates agree; resample onto the T1c grid.
            entry[seq] = img if same_grid(img, t1c) else resample(img, t1c, interpolator=sitk.sitkLinear)
        studies[study.study_uid] = entry
    return {"inventory": inv, "studies": studies, "advanced": find_advanced_series(inv)}


def _save(result: dict[str, Any], folder: Path) -> None:
    (folder / "inventory.json").write_text(result["inventory"].model_dump_json(), encoding="utf-8")
    index: dict[str, Any] = {}
    for i, (uid, entry) in enumerate(result["studies"].items()):
        names = {}
        for seq in SEQUENCES:
            if seq in entry:
                names[seq] = f"study{i}_{seq}.npz"
                save_image(entry[seq], folder / names[seq])
        index[uid] = {"files": names, "notes": entry["notes"]}
    save_json(index, folder / "studies.json")
    save_json(asdict(result["advanced"]), folder / "advanced.json")


def _load(folder: Path) -> dict[str, Any]:
    from radnec.imaging.collect import AdvancedSeries
    from radnec.ingest.records import Inventory

    inv = Inventory.model_validate_json((folder / "inventory.json").read_text(encoding="utf-8"))
    studies: dict[str, Any] = {}
    for uid, entry in load_json(folder / "studies.json").items():
        loaded: dict[str, Any] = {"notes": entry["notes"]}
        for seq, name in entry["files"].items():
            loaded[seq] = load_image(folder / name)
        studies[uid] = loaded
    return {"inventory": inv, "studies": studies, "advanced": AdvancedSeries(**load_json(folder / "advanced.json"))}


def plan_dose(layout: Any) -> Any:
    """The plan's total dose: the one RTDOSE of summation type PLAN (or MULTI_PLAN).

    Beam, fraction or control-point doses are not the delivered total; radnec refuses rather than
    guess a sum or a scaling, and refuses ambiguity (several plan doses).
    """
    from radnec.ingest.rtdose import read_rtdose

    doses = [read_rtdose(o.path) for o in layout.rtdoses]
    totals = [d for d in doses if d.summation_type.upper() in PLAN_DOSE_SUMMATION_TYPES]
    if len(totals) == 1:
        return totals[0]
    if len(totals) > 1:
        raise MissingReferenceError(
            f"{len(totals)} RTDOSE files of summation type PLAN reference this plan; keep only the one to analyse "
            f"({', '.join(str(d.path.name) for d in totals)})",
            path=layout.rtplan.path,
        )
    kinds = sorted({d.summation_type or "(none)" for d in doses})
    raise UnitsError(
        f"no plan-total RTDOSE: DoseSummationType is {', '.join(kinds)}; radnec needs the PLAN dose (export the "
        "plan sum from the planning system)",
        path=doses[0].path if doses else layout.rtplan.path,
    )


def srs_date_of(layout: Any, clinical: Any, warnings: list[str]) -> dt.date | None:
    """First SRS fraction: the clinical file's, else RTPLAN's RTPlanDate, else the planning MRI date."""
    if clinical is not None and clinical.srs.date is not None:
        return clinical.srs.date
    import pydicom

    try:
        ds = pydicom.dcmread(layout.rtplan.path, stop_before_pixels=True, specific_tags=["RTPlanDate"])
        text = str(getattr(ds, "RTPlanDate", "") or "")
        if len(text) == 8:
            warnings.append(
                "SRS date taken from the RTPLAN's RTPlanDate, the date the plan was made, which may precede the "
                "first fraction (give srs.date in the clinical file)"
            )
            return dt.date(int(text[:4]), int(text[4:6]), int(text[6:8]))
    except (OSError, ValueError, pydicom.errors.InvalidDicomError):
        pass
    if layout.planning.date:
        warnings.append("SRS date unknown: days are counted from the planning MRI date")
        return dt.date.fromisoformat(layout.planning.date)
    warnings.append("SRS date unknown and no study dates: days since SRS are not available")
    return None


def _require_frame(layout: Any, dose: Any, structures: Any) -> None:
    planning_for = layout.planning.series["T1c"].frame_of_reference_uid
    for what, uid, path in (
        ("RTDOSE", dose.frame_of_reference_uid, layout.rtdose.path),
        ("RTSTRUCT", structures.frame_of_reference_uid, layout.rtstruct.path),
    ):
        if uid and planning_for and uid != planning_for:
            raise FrameOfReferenceError(
                f"the {what} is in frame of reference {uid[-12:]} but the planning T1c is in {planning_for[-12:]}; "
                "radnec needs the plan and the planning image in one frame (export them together, or add a REG)",
                path=path,
            )


def _study(loaded: Keyed, layout_study: Any, *, label: str, srs_date: dt.date | None, skipped: list[str]) -> Study:
    entry = loaded.value["studies"][layout_study.study_uid]
    uid = layout_study.study_uid
    skipped.extend(f"{label} ({layout_study.date or 'no date'}): {n}" for n in entry["notes"])
    days = None
    if srs_date is not None and layout_study.date:
        days = (dt.date.fromisoformat(layout_study.date) - srs_date).days

    def keyed(seq: str) -> Keyed | None:
        return Keyed(f"{loaded.key}:{uid}:{seq}", entry[seq]) if seq in entry else None

    t1c = keyed("T1c")
    assert t1c is not None  # find_case guarantees a T1c per study
    return Study(
        label=label,
        study_uid=uid,
        date=layout_study.date,
        days_since_srs=days,
        frame_uid=layout_study.series["T1c"].frame_of_reference_uid,
        t1c=t1c,
        flair=keyed("FLAIR"),
        t2=keyed("T2"),
    )


def load_inputs(
    ws: Workspace, case_dir: Path, *, clinical: str | Path | None, skipped: list[str], warnings: list[str]
) -> CaseInputs:
    """The case as the rest of the run sees it (see the module docstring).

    Raises
    ------
    InputError
        The folder is missing or has no follow-up after the SRS date; the ingest's own errors for
        broken files.
    """
    from radnec.ingest.rtplan import read_rtplan
    from radnec.ingest.rtstruct import read_rtstruct

    if not case_dir.is_dir():
        raise InputError("the case folder does not exist or is not a folder", path=case_dir)
    case_dir = case_dir.resolve()  # the saved inventory's paths must not depend on the working folder
    shas = _files_of(case_dir)
    key = ws.key("inputs", str(case_dir), shas)
    loaded = ws.cached("inputs", key, lambda: _scan_and_load(case_dir), _save, _load)
    inv = loaded.value["inventory"]
    warnings.extend(inv.warnings)
    for s in inv.skipped:
        if not s.reason.startswith("not DICOM"):
            skipped.append(f"file skipped by ingest: {Path(s.path).name}: {s.reason}")
    from radnec.discover import find_case

    layout = find_case(inv)
    advanced = loaded.value["advanced"]
    warnings.extend(layout.notes)
    skipped.extend(layout.skipped)  # every series considered and not used, with why
    plan = read_rtplan(layout.rtplan.path)
    dose = plan_dose(layout)
    structures = read_rtstruct(layout.rtstruct.path)
    case = None
    if clinical is not None:
        from radnec.evidence.case import load_case

        case = load_case(clinical)
    else:
        skipped.append("no clinical case file (--clinical): the prior uses defaults and clinical modifiers are not applied")
    srs_date = srs_date_of(layout, case, warnings)
    _require_frame(layout, dose, structures)
    studies = [_study(loaded, layout.planning, label="planning", srs_date=srs_date, skipped=skipped)]
    followups = list(layout.followups)
    if srs_date is not None:
        before = [f for f in followups if f.date and dt.date.fromisoformat(f.date) <= srs_date]
        for f in before:
            skipped.append(f"MR study of {f.date} is not after the SRS date ({srs_date}): not a follow-up, not analysed")
        followups = [f for f in followups if f not in before]
    if not followups:
        raise InputError("no follow-up MRI after the SRS date was found", path=case_dir)
    for i, fu in enumerate(followups, start=1):
        studies.append(_study(loaded, fu, label=f"follow-up {i}", srs_date=srs_date, skipped=skipped))
    files = sorted({f for s in inv.all_series() for f in s.files} | {o.path for o in inv.objects_of_kind("RTPLAN", "RTDOSE", "RTSTRUCT")})
    rel = {_rel(f, case_dir): f for f in files}
    return CaseInputs(
        case_dir=case_dir,
        key=key,
        layout=layout,
        advanced=advanced,
        plan=plan,
        dose=dose,
        dose_key=shas.get(_rel(dose.path, case_dir)) or file_sha256(dose.path),
        structures=structures,
        clinical=case,
        srs_date=srs_date,
        studies=studies,
        input_files=files,
        file_sha256={r: shas.get(r) or file_sha256(p) for r, p in sorted(rel.items())},
    )


__all__ = ["PLAN_DOSE_SUMMATION_TYPES", "load_inputs", "plan_dose", "srs_date_of"]
