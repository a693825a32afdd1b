"""Find the pieces of one SRS case in a scanned folder: the plan bundle and the follow-ups.

The plan bundle is the RTPLAN + RTDOSE + RTSTRUCT that reference each other and the image
series the structure set was drawn on (``Inventory.rt_bundles``). Every other study holding MR
series is a follow-up, in date order. Within a study the post-contrast T1 and the FLAIR are
recognised from the series description (patterns in :data:`SEQUENCE_PATTERNS`); ambiguity is
reported, never guessed silently.
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field

from radnec.errors import InputError, MissingReferenceError
from radnec.ingest.records import Inventory, ObjectInfo, SeriesInfo, StudyInfo

#: Series-description patterns (case-insensitive regular expressions) per sequence, tried in
#: order. Vendors name sequences freely; these cover the common exports (e.g. "T1c", "T1 POST GD",
#: "MPRAGE+C", "T1CE", "AX T2 FLAIR", "t2f").
SEQUENCE_PATTERNS: dict[str, tuple[str, ...]] = {
    "T1c": (r"\bt1\s*c\b", r"t1.*(post|gad|gd|\+\s*c|contrast|ce\b)", r"mprage.*(post|gd|\+\s*c)", r"\bt1ce\b", r"\bt1c"),
    "FLAIR": (r"flair", r"\bt2f\b"),
    "T2": (r"\bt2\b(?!.*flair)", r"\bt2w\b"),
}


@dataclass
class StudySeries:
    """One MR study with the series radnec uses from it."""

    study_uid: str
    date: str | None
    frame_of_reference_uid: str | None
    series: dict[str, SeriesInfo] = field(default_factory=dict)  # "T1c", "FLAIR", "T2"
    notes: list[str] = field(default_factory=list)


@dataclass
class CaseLayout:
    """Where each piece of the case is."""

    rtplan: ObjectInfo
    rtdose: ObjectInfo
    rtdoses: list[ObjectInfo]
    rtstruct: ObjectInfo
    planning: StudySeries
    followups: list[StudySeries]
    notes: list[str] = field(default_factory=list)


#: Descriptions that are never the post-contrast T1 even when they mention T1 (pre-contrast,
#: non-contrast, dynamic perfusion series).
NOT_T1C_PATTERN = r"\bpre\b|pre[-_ ]?(gd|gad|contrast|c\b)|non[-_ ]?(contrast|enh)|\bw/?o\b|without|\bdce\b|\bdsc\b|perf"


def classify_series(description: str | None) -> str | None:
    """The sequence ('T1c', 'FLAIR', 'T2') a series description names, or None."""
    text = (description or "").lower()
    for name, patterns in SEQUENCE_PATTERNS.items():
        if name == "T1c" and re.search(NOT_T1C_PATTERN, text):
            continue
        if any(re.search(p, text) for p in patterns):
            return name
    return None


def _objects(inv: Inventory, kind: str) -> dict[str, ObjectInfo]:
    return {o.sop_instance_uid: o for o in inv.objects_of_kind(kind)}


def _studies(inv: Inventory) -> list[StudyInfo]:
    return [s for p in inv.patients for s in p.studies]


def _study_series(study: StudyInfo) -> StudySeries:
    mr = [s for f in study.frames_of_reference for s in f.series if s.kind == "MR"]
    frames = {s.frame_of_reference_uid for s in mr}
    out = StudySeries(
        study_uid=study.study_instance_uid,
        date=study.study_date or next((s.acquisition_date for s in mr if s.acquisition_date), None),
        frame_of_reference_uid=next(iter(frames)) if len(frames) == 1 else None,
    )
    for series in sorted(mr, key=lambda s: (s.series_number or 0, s.series_instance_uid)):
        name = classify_series(series.description)
        if name is None:
            continue
        if name in out.series:
            out.notes.append(
                f"study {out.date or '?'}: several {name} series; using series {out.series[name].series_number} "
                f"'{out.series[name].description}', not {series.series_number} '{series.description}'"
            )
            continue
        out.series[name] = series
    if "T1c" in out.series and out.series["T1c"].acquisition_date:
        # The image's own date: a study may also hold RT objects dated the day of treatment.
        out.date = out.series["T1c"].acquisition_date
    return out


def find_case(inv: Inventory) -> CaseLayout:
    """Pick the plan bundle and the follow-up studies of a scanned case folder.

    Raises
    ------
    MissingReferenceError
        No complete plan bundle (RTPLAN + RTDOSE + RTSTRUCT + its image series), or the planning
        study has no post-contrast T1.
    """
    bundles = [b for b in inv.rt_bundles if b.rtplan_uid and b.rtdose_uids and b.rtstruct_uid and b.image_series_uid]
    if not bundles:
        raise MissingReferenceError(
            "no complete SRS plan found: radnec needs an RTPLAN, its RTDOSE, the RTSTRUCT it references and the "
            "image series that structure set was drawn on (run `radnec inspect` to see what is there)",
            path=inv.root,
        )
    notes: list[str] = []
    bundle = bundles[0]
    if len(bundles) > 1:
        notes.append(f"{len(bundles)} plan bundles found; using the first (plan {bundle.rtplan_uid[-12:]})")
    if not bundle.consistent:
        notes.extend(f"plan bundle: {p}" for p in bundle.problems)
    plans, doses, structs = _objects(inv, "RTPLAN"), _objects(inv, "RTDOSE"), _objects(inv, "RTSTRUCT")
    planning_study = next(
        (
            st
            for st in _studies(inv)
            for f in st.frames_of_reference
            for s in f.series
            if s.series_instance_uid == bundle.image_series_uid
        ),
        None,
    )
    if planning_study is None:
        raise MissingReferenceError("the planning image series is not in the folder", path=inv.root)
    planning = _study_series(planning_study)
    ref_series = next(
        s for f in planning_study.frames_of_reference for s in f.series if s.series_instance_uid == bundle.image_series_uid
    )
    if ref_series.modality == "MR":
        # The GTV was drawn on this series: it is the planning reference whatever its name says.
        chosen = planning.series.get("T1c")
        if chosen is None or chosen.series_instance_uid != ref_series.series_instance_uid:
            notes.append(f"planning T1c: using the series the structures were drawn on ('{ref_series.description}')")
        planning.series["T1c"] = ref_series
        if ref_series.acquisition_date:
            planning.date = ref_series.acquisition_date
    elif "T1c" not in planning.series:
        raise MissingReferenceError(
            "the planning study has no post-contrast T1 MR series (series descriptions did not match "
            f"{SEQUENCE_PATTERNS['T1c']}); radnec registers follow-up T1c to the planning T1c",
            path=inv.root,
        )
    followups = [
        _study_series(st) for st in _studies(inv) if st.study_instance_uid != planning_study.study_instance_uid
    ]
    followups = [f for f in followups if f.series]
    for f in followups:
        if "T1c" not in f.series:
            notes.append(f"follow-up study {f.date or f.study_uid[-8:]}: no post-contrast T1 series recognised; skipped")
    followups = sorted((f for f in followups if "T1c" in f.series), key=lambda f: (f.date or "", f.study_uid))
    if not followups:
        raise InputError(
            "no follow-up MRI study with a post-contrast T1 series was found besides the planning study",
            path=inv.root,
        )
    return CaseLayout(
        rtplan=plans[bundle.rtplan_uid],
        rtdose=doses[bundle.rtdose_uids[0]],
        rtdoses=[doses[u] for u in bundle.rtdose_uids if u in doses],
        rtstruct=structs[bundle.rtstruct_uid],
        planning=planning,
        followups=followups,
        notes=notes + planning.notes + [n for f in followups for n in f.notes],
    )
