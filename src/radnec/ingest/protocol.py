"""Which MR series of a study is the post-contrast T1, the FLAIR and the T2 — by content and headers.

Follow-up MRIs come from routine protocols: 2-D and 3-D T1 before and after contrast, FLAIR, T2, DWI/ADC,
SWI, localisers, subtraction images and reformats, named differently by every vendor and language.
:func:`classify` gives each series a role from its ImageType, diffusion b-value, description (or protocol
name), sequence timing (TR/TE/TI) and contrast tags (ContrastBolusAgent); :func:`choose` ranks the
candidates of each role and records, for every series, whether it was used and why (a
:class:`SeriesChoice`). The vocabulary and the rules are in ``series_vocabulary.yaml`` — radnec's
convention from vendor documentation and DICOM PS3.3, not clinical evidence.

Ranking (best first): same frame of reference as the chosen T1c (FLAIR/T2 only), ORIGINAL over
DERIVED (a reformat is never picked over its source), 3-D isotropic (largest spacing <=
``isotropic_max_spacing_mm``) over the rest, the smaller largest spacing, the larger coverage, the later
acquisition.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from functools import lru_cache

import numpy as np
from pydantic import BaseModel, ConfigDict, Field

from radnec.datafiles import load_yaml
from radnec.ingest.records import MRFacts, SeriesInfo

#: Roles radnec uses from a study, in choice order (the FLAIR and T2 prefer the T1c's frame).
USED_ROLES = ("T1c", "FLAIR", "T2")
#: Reformat markers in ImageType (Siemens/GE/Philips MPR exports).
REFORMAT_IMAGE_TYPES = frozenset({"MPR", "REFORMATTED", "MPR THICK", "CSA MPR", "PROJECTION IMAGE", "CSAMPR"})
_REFORMAT_DESCRIPTION = r"\bmpr\b|reformat|\brfmt\b|\bmip\b|\brecon(struction)?\b"


class _Ignore(BaseModel):
    model_config = ConfigDict(extra="forbid")
    image_type: list[str]
    description: list[str]
    reason: str


class _Patterns(BaseModel):
    model_config = ConfigDict(extra="forbid")
    description: list[str]


class _Sequences(BaseModel):
    model_config = ConfigDict(extra="forbid")
    T1_explicit: _Patterns
    FLAIR: _Patterns
    T2: _Patterns
    T1: _Patterns
    timing: dict[str, dict[str, float]]


class _Contrast(BaseModel):
    model_config = ConfigDict(extra="forbid")
    post: list[str]
    pre: list[str]
    agent_none: list[str]


class Vocabulary(BaseModel):
    """``series_vocabulary.yaml``, validated."""

    model_config = ConfigDict(extra="forbid", populate_by_name=True)
    schema_version: int = Field(1, alias="schema")
    isotropic_max_spacing_mm: float
    ignore: dict[str, _Ignore]
    sequences: _Sequences
    contrast: _Contrast


@lru_cache(maxsize=1)
def vocabulary() -> Vocabulary:
    """The packaged series vocabulary (cached)."""
    return load_yaml("radnec.ingest", "series_vocabulary.yaml", Vocabulary)


@dataclass(frozen=True)
class Classification:
    """The role of one series and the evidence for it.

    ``role`` is ``T1c``, ``T1`` (pre-contrast), ``FLAIR``, ``T2``, an ignore class of the vocabulary
    (``localizer``, ``diffusion``, ...), ``unusable`` or ``unknown``.
    """

    role: str
    evidence: str
    derived: bool = False
    reformat: bool = False


@dataclass(frozen=True)
class SeriesChoice:
    """One series considered for a study, whether it is used and why (for ``analysis.json`` → ``skipped``)."""

    study_date: str | None
    study_time: str | None
    series_uid: str
    description: str | None
    role: str
    used: bool
    reason: str


def normalise(text: str | None) -> str:
    """Lower case; ``_ - . , ; : /`` become spaces (so ``t1_mprage_KM`` reads ``t1 mprage km``)."""
    return re.sub(r"[_\-.,;:/\\]+", " ", (text or "").lower()).strip()


def _any(patterns: list[str], text: str) -> str | None:
    return next((p for p in patterns if re.search(p, text)), None)


def _by_timing(f: MRFacts, timing: dict[str, dict[str, float]]) -> str | None:
    tr, te, ti = f.repetition_time_ms, f.echo_time_ms, f.inversion_time_ms

    def ok(rule: dict[str, float]) -> bool:
        for key, limit in rule.items():
            name = key.rsplit("_", 2)[0]
            value = {"repetition_time": tr, "echo_time": te, "inversion_time": ti}[name]
            if value is None:
                return False
            if key.endswith("_min_ms") and value < limit:
                return False
            if key.endswith("_max_ms") and value > limit:
                return False
        return True

    if ok(timing["FLAIR"]):
        return "FLAIR"
    if ok(timing["T2"]):
        return "T2"
    for rule in ("T1_inversion_prepared", "T1_gradient_echo", "T1_spin_echo"):
        if ok(timing[rule]):
            return "T1"
    return None


def is_reformat(series: SeriesInfo) -> bool:
    """A multiplanar reformat / projection of another acquisition (ImageType or description)."""
    f = series.mr or MRFacts()
    types = set(f.image_type)
    joined = " ".join(f.image_type)
    if types & REFORMAT_IMAGE_TYPES or "MPR" in joined or "REFORMAT" in joined:
        return True
    return bool(re.search(_REFORMAT_DESCRIPTION, normalise(series.description)))


def classify(series: SeriesInfo) -> Classification:
    """The role of one image series, from its headers and description (see the module docstring)."""
    voc = vocabulary()
    f = series.mr or MRFacts()
    text = normalise(series.description or f.protocol_name)
    derived = f.image_type[:1] == ["DERIVED"] or f.image_type[1:2] == ["SECONDARY"]
    reformat = is_reformat(series)
    if series.conflicting_duplicates:
        return Classification("unusable", "duplicated instances with different content (conflict)", derived, reformat)
    if series.dynamic:
        return Classification("perfusion", f"dynamic series ({series.n_timepoints} time points)", derived, reformat)
    if series.kind != "MR":
        return Classification("unusable", f"{series.kind} series (follow-up roles are MR)", derived, reformat)
    types = set(f.image_type)
    for name, rule in voc.ignore.items():
        hit = types & set(rule.image_type)
        if hit:
            return Classification(name, f"{rule.reason} (ImageType {'/'.join(sorted(hit))})", derived, reformat)
        if name == "diffusion" and f.diffusion_b_value:
            return Classification(name, f"{rule.reason} (DiffusionBValue {f.diffusion_b_value:g})", derived, reformat)
        pattern = _any(rule.description, text)
        if pattern:
            return Classification(name, f"{rule.reason} (description '{series.description}')", derived, reformat)
    if f.n_positions and f.n_positions < 3:
        return Classification("unusable", f"only {f.n_positions} slice position(s): not a volume", derived, reformat)
    seq = voc.sequences
    role, how = None, ""
    for name, patterns in (("T1", seq.T1_explicit), ("FLAIR", seq.FLAIR), ("T2", seq.T2), ("T1", seq.T1)):
        if _any(patterns.description, text):
            role, how = name, f"description '{series.description or f.protocol_name}'"
            break
    if role is None:
        role = _by_timing(f, seq.timing)
        if role is None:
            return Classification("unknown", "sequence not recognised from the description or TR/TE/TI", derived, reformat)
        how = f"TR {f.repetition_time_ms:g} ms, TE {f.echo_time_ms:g} ms" + (
            f", TI {f.inversion_time_ms:g} ms" if f.inversion_time_ms else ""
        )
    if role != "T1":
        return Classification(role, f"{role} by {how}", derived, reformat)
    con = voc.contrast
    pre = _any(con.pre, text)
    agent = (f.contrast_agent or "").strip()
    has_agent = bool(agent) and agent.lower() not in con.agent_none
    if pre:
        return Classification("T1", f"pre-contrast T1 by description '{series.description}'", derived, reformat)
    if has_agent:
        return Classification("T1c", f"post-contrast by ContrastBolusAgent '{agent}'", derived, reformat)
    if _any(con.post, text):
        return Classification("T1c", f"post-contrast by description '{series.description}'", derived, reformat)
    return Classification("T1", "no contrast agent tag and no post-contrast word", derived, reformat)


def _spacings(f: MRFacts) -> list[float]:
    out = list(f.pixel_spacing_mm or [])
    slice_mm = f.slice_spacing_mm or f.slice_thickness_mm
    if slice_mm:
        out.append(abs(slice_mm))
    return out


def is_isotropic_3d(series: SeriesInfo) -> bool:
    """A 3-D acquisition (or a stack) whose largest spacing is <= the vocabulary's isotropic limit."""
    f = series.mr or MRFacts()
    sp = _spacings(f)
    return bool(sp) and max(sp) <= vocabulary().isotropic_max_spacing_mm and f.acquisition_type != "2D"


def plane(series: SeriesInfo) -> str:
    """``axial``, ``sagittal``, ``coronal`` or ``oblique (N° from <plane>)`` from ImageOrientationPatient."""
    f = series.mr or MRFacts()
    if not f.orientation:
        return "unknown plane"
    n = np.cross(np.asarray(f.orientation[:3]), np.asarray(f.orientation[3:]))
    n = n / (np.linalg.norm(n) or 1.0)
    k = int(np.argmax(np.abs(n)))
    name = ("sagittal", "coronal", "axial")[k]
    angle = float(np.degrees(np.arccos(min(1.0, abs(n[k])))))
    return name if angle < 5.0 else f"oblique ({angle:.0f}° from {name})"


def geometry_text(series: SeriesInfo) -> str:
    """``3-D, 1.0 mm iso, sagittal`` or ``2-D, 0.9×0.9×5.0 mm (gap 1.0 mm), axial``."""
    f = series.mr or MRFacts()
    dim = {"3D": "3-D", "2D": "2-D"}.get(f.acquisition_type or "", "?-D")
    sp = _spacings(f)
    if is_isotropic_3d(series):
        size = f"{max(sp):.1f} mm iso"
    elif f.pixel_spacing_mm and (f.slice_spacing_mm or f.slice_thickness_mm):
        slice_mm = abs(f.slice_spacing_mm or f.slice_thickness_mm or 0.0)
        size = f"{f.pixel_spacing_mm[1]:.1f}×{f.pixel_spacing_mm[0]:.1f}×{slice_mm:.1f} mm"
        if f.slice_thickness_mm and slice_mm - f.slice_thickness_mm > 0.05:
            size += f" (thickness {f.slice_thickness_mm:.1f} mm, gap {slice_mm - f.slice_thickness_mm:.1f} mm)"
    else:
        size = "spacing unknown"
    return f"{dim}, {size}, {plane(series)}"


def _rank_key(series: SeriesInfo, cls: Classification, frame: str | None) -> tuple:
    f = series.mr or MRFacts()
    sp = _spacings(f)
    t = f.acquisition_time or ""
    seconds = int(t[:2]) * 3600 + int(t[3:5]) * 60 + int(t[6:8]) if len(t) == 8 else 0
    return (
        0 if frame is None or series.frame_of_reference_uid == frame else 1,
        1 if (cls.derived or cls.reformat) else 0,
        0 if is_isotropic_3d(series) else 1,
        round(max(sp), 2) if sp else 99.0,
        -(f.extent_mm or 0.0),
        -seconds,
        series.series_number or 0,
        series.series_instance_uid,
    )


def _why_not(loser: SeriesInfo, lc: Classification, winner: SeriesInfo, wc: Classification, frame: str | None) -> str:
    a, b = _rank_key(winner, wc, frame), _rank_key(loser, lc, frame)
    if a[0] != b[0]:
        return "another frame of reference than the chosen T1c"
    if a[1] != b[1]:
        sources = (loser.mr or MRFacts()).source_series_uids
        if winner.series_instance_uid in sources:
            return "a reformat/derived copy of the series used"
        return "derived/reformatted; an ORIGINAL series exists"
    if a[2] != b[2]:
        return "the series used is 3-D isotropic"
    if a[3] != b[3]:
        return "the series used has thinner slices"
    if a[4] != b[4]:
        return "the series used covers more"
    if a[5] != b[5]:
        return "the series used was acquired later"
    return "same geometry and time; the lower series number was used"


def choose(
    series: list[SeriesInfo], *, study_date: str | None = None, study_time: str | None = None
) -> tuple[dict[str, SeriesInfo], list[SeriesChoice]]:
    """The T1c, FLAIR and T2 of one study, and a :class:`SeriesChoice` for every series considered.

    Parameters
    ----------
    series
        The study's image series (any kind; non-MR ones are recorded as not used).
    study_date, study_time
        Labels copied into the choices (``YYYY-MM-DD``, ``HH:MM:SS``).

    Returns
    -------
    (dict, list)
        Role → chosen series (roles without a candidate are absent), and one choice per series.
    """
    classes = {s.series_instance_uid: classify(s) for s in series}
    chosen: dict[str, SeriesInfo] = {}
    reasons: dict[str, tuple[bool, str]] = {}
    frame: str | None = None
    for role in USED_ROLES:
        cands = [s for s in series if classes[s.series_instance_uid].role == role]
        if not cands:
            continue
        ranked = sorted(cands, key=lambda s: _rank_key(s, classes[s.series_instance_uid], frame))
        best = ranked[0]
        bc = classes[best.series_instance_uid]
        chosen[role] = best
        text = f"used as {role}: {geometry_text(best)}; {bc.evidence}"
        if bc.derived or bc.reformat:
            text += "; a derived/reformatted series (no original of this role in the study)"
        if len(ranked) > 1:
            others = ", ".join(f"'{s.description}' ({geometry_text(s)})" for s in ranked[1:])
            text += f"; preferred over {others}"
        reasons[best.series_instance_uid] = (True, text)
        for s in ranked[1:]:
            why = _why_not(s, classes[s.series_instance_uid], best, bc, frame)
            reasons[s.series_instance_uid] = (
                False,
                f"{role} candidate not used ({geometry_text(s)}): {why} ('{best.description}')",
            )
        if role == "T1c":
            frame = best.frame_of_reference_uid
    choices = []
    for s in sorted(series, key=lambda s: (s.series_number or 0, s.series_instance_uid)):
        c = classes[s.series_instance_uid]
        used, reason = reasons.get(s.series_instance_uid, (False, ""))
        if not reason:
            if c.role == "T1":
                reason = f"pre-contrast T1, not used ({c.evidence})"
            elif c.role == "unknown":
                reason = f"not used: {c.evidence}"
            else:
                reason = f"ignored: {c.evidence}"
        choices.append(
            SeriesChoice(
                study_date=study_date,
                study_time=study_time,
                series_uid=s.series_instance_uid,
                description=s.description,
                role=c.role,
                used=used,
                reason=reason,
            )
        )
    return chosen, choices


__all__ = [
    "Classification",
    "SeriesChoice",
    "USED_ROLES",
    "Vocabulary",
    "choose",
    "classify",
    "geometry_text",
    "is_isotropic_3d",
    "is_reformat",
    "normalise",
    "plane",
    "vocabulary",
]
