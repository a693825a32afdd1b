"""Find the pieces of one SRS case in a scanned folder: the plan bundle and the follow-ups.

The plan bundle is the RTPLAN + RTDOSE + RTSTRUCT that reference each other and the image
series the structure set was drawn on (``Inventory.rt_bundles``). Every other study holding MR
series is a follow-up, in date (then time) order; several studies on one day stay apart.
Within a study the post-contrast T1, the FLAIR and the T2 are chosen by content and headers
(:mod:`radnec.ingest.protocol`: ImageType, contrast tags, sequence timing, description in several
vendors' and languages' words; 3-D isotropic over 2-D; a reformat never over its source). Every series
considered gets a :class:`~radnec.ingest.protocol.SeriesChoice` with the reason it was or was not used
(``CaseLayout.series_choices``; the not-used ones as lines in ``CaseLayout.skipped``).
"""

from __future__ import annotations

from dataclasses import dataclass, field, replace

from radnec.errors import InputError, MissingReferenceError
from radnec.ingest.protocol import USED_ROLES, SeriesChoice, choose, classify
from radnec.ingest.records import Inventory, ObjectInfo, SeriesInfo, StudyInfo

@dataclass
class StudySeries:
    """One MR study with the series radnec uses from it."""

    study_uid: str
    date: str | None
    frame_of_reference_uid: str | None
    series: dict[str, SeriesInfo] = field(default_factory=dict)  # "T1c", "FLAIR", "T2"
    notes: list[str] = field(default_factory=list)
    time: str | None = None  # HH:MM:SS of the study (or of its T1c)
    choices: list[SeriesChoice] = field(default_factory=list)

    @property
    def label(self) -> str:
        """``YYYY-MM-DD HH:MM`` (date and time: several studies may share a day)."""
        return " ".join(x for x in (self.date, (self.time or "")[:5]) if x) or self.study_uid[-8:]


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
    #: every MR series considered, in every study, with whether it is used and why
    series_choices: list[SeriesChoice] = field(default_factory=list)
    #: one line per series not used ("follow-up 2024-05-02 10:14: 'AX T1 POST GAD' not used: ...")
    skipped: list[str] = field(default_factory=list)


def classify_series(description: str | None) -> str | None:
    """The role ('T1c', 'FLAIR', 'T2') a series description alone names, or None (headers unknown).

    Uses :func:`radnec.ingest.protocol.classify` with no header facts; :func:`find_case` uses the
    headers too.
    """
    info = SeriesInfo(
        series_instance_uid="", kind="MR", modality="MR", study_instance_uid="", frame_of_reference_uid=None,
        description=description,
    )
    role = classify(info).role
    return role if role in USED_ROLES else None


def _objects(inv: Inventory, kind: str) -> dict[str, ObjectInfo]:
    return {o.sop_instance_uid: o for o in inv.objects_of_kind(kind)}


def _studies(inv: Inventory) -> list[StudyInfo]:
    return [s for p in inv.patients for s in p.studies]


def _study_series(study: StudyInfo) -> StudySeries:
    mr = [s for f in study.frames_of_reference for s in f.series if s.kind in ("MR", "CT", "PT")]
    mr_only = [s for s in mr if s.kind == "MR"]
    frames = {s.frame_of_reference_uid for s in mr_only}
    out = StudySeries(
        study_uid=study.study_instance_uid,
        date=study.study_date or next((s.acquisition_date for s in mr_only if s.acquisition_date), None),
        frame_of_reference_uid=next(iter(frames)) if len(frames) == 1 else None,
        time=study.study_time,
    )
    if not mr_only:
        return out
    chosen, out.choices = choose(mr, study_date=out.date, study_time=out.time)
    out.series.update(chosen)
    t1c = out.series.get("T1c")
    if t1c is not None and t1c.acquisition_date:
        # The image's own date: a study may also hold RT objects dated the day of treatment.
        out.date = t1c.acquisition_date
    if t1c is not None and t1c.mr is not None and t1c.mr.acquisition_time and not out.time:
        out.time = t1c.mr.acquisition_time
    out.choices = [replace(c, study_date=out.date, study_time=out.time) for c in out.choices]
    return out


def _skipped_lines(label: str, study: StudySeries) -> list[str]:
    return [
        f"{label} {study.label}: '{c.description or c.series_uid[-12:]}' not used: {c.reason}"
        for c in study.choices
        if not c.used
    ]


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
        planning.choices = [
            SeriesChoice(
                study_date=c.study_date,
                study_time=c.study_time,
                series_uid=c.series_uid,
                description=c.description,
                role="T1c" if c.series_uid == ref_series.series_instance_uid else c.role,
                used=c.series_uid == ref_series.series_instance_uid or (c.used and c.role != "T1c"),
                reason="used as T1c: the series the RTSTRUCT was drawn on"
                if c.series_uid == ref_series.series_instance_uid
                else (c.reason if c.role != "T1c" else "T1c candidate not used: the planning reference is the "
                      "series the structures were drawn on"),
            )
            for c in planning.choices
        ]
    elif "T1c" not in planning.series:
        raise MissingReferenceError(
            "the planning study has no post-contrast T1 MR series (series descriptions did not match "
            "radnec's series vocabulary and no ContrastBolusAgent tag); radnec registers follow-up T1c to the "
            "planning T1c",
            path=inv.root,
        )
    followups = [
        _study_series(st) for st in _studies(inv) if st.study_instance_uid != planning_study.study_instance_uid
    ]
    followups = [f for f in followups if f.series]
    for f in followups:
        if "T1c" not in f.series:
            notes.append(f"follow-up study {f.label}: no post-contrast T1 series recognised; skipped")
    followups = sorted((f for f in followups if "T1c" in f.series), key=lambda f: (f.date or "", f.time or "", f.study_uid))
    ordered = [planning, *followups]
    labels = ["planning"] + [f"follow-up {i}" for i in range(1, len(followups) + 1)]
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
        notes=notes + [n for n in inv.notes if "reused the extraction" not in n] + planning.notes
        + [n for f in followups for n in f.notes],
        series_choices=[c for st in ordered for c in st.choices],
        skipped=[line for label, st in zip(labels, ordered) for line in _skipped_lines(label, st)],
    )
