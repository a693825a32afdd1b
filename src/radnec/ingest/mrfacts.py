"""Header facts of an image series that decide which role it plays in a follow-up protocol.

:func:`instance_facts` reads, from one header already in memory, the tags that tell a post-contrast T1
from a pre-contrast one, a FLAIR, a T2, a localiser, a diffusion or a derived series (ImageType,
ContrastBolusAgent/Route/Volume, ScanningSequence, SequenceVariant, MRAcquisitionType, TR/TE/TI,
DiffusionBValue) and the slice geometry (thickness, pixel spacing, orientation, position).
:func:`series_facts` folds the instances of one series into one :class:`~radnec.ingest.records.MRFacts`:
the slice spacing is the median distance between the distinct slice positions projected on the slice
normal, the coverage is their range plus one spacing (mm). No pixel data is read.
"""

from __future__ import annotations

from typing import Any

import numpy as np

from radnec.ingest.records import MRFacts
from radnec.ingest.values import float_or_none, text_or_none


def _multi(value: Any) -> list[str]:
    if value is None:
        return []
    if isinstance(value, (list, tuple)) or type(value).__name__ == "MultiValue":
        return [str(v).strip().upper() for v in value if str(v).strip()]
    text = str(value).strip()
    return [t.strip().upper() for t in text.replace("\\", " ").split() if t.strip()] if text else []


def _floats(value: Any, n: int) -> list[float] | None:
    try:
        out = [float(v) for v in value]
    except (TypeError, ValueError):
        return None
    return out if len(out) == n else None


def _time(value: Any) -> str | None:
    text = str(value or "").strip()
    if len(text) >= 4 and text[:4].isdigit():
        text = (text + "0000")[:6] if len(text) < 6 else text[:6]
        return f"{text[:2]}:{text[2:4]}:{text[4:6]}"
    return None


def _contrast(ds: Any) -> tuple[str | None, str | None, float | None]:
    agent = text_or_none(ds.get("ContrastBolusAgent"))
    route = text_or_none(ds.get("ContrastBolusRoute"))
    volume = float_or_none(ds.get("ContrastBolusVolume"))
    if agent is None:  # enhanced MR: Enhanced Contrast/Bolus Module
        for item in ds.get("ContrastBolusAgentSequence", None) or []:
            agent = text_or_none(item.get("CodeMeaning")) or agent
            route = route or next(
                (text_or_none(r.get("CodeMeaning")) for r in item.get("ContrastBolusAdministrationRouteSequence", []) or []),
                None,
            )
            volume = volume if volume is not None else float_or_none(item.get("ContrastBolusVolume"))
    return agent, route, volume


def _source_series(ds: Any) -> list[str]:
    out: list[str] = []
    for keyword in ("ReferencedSeriesSequence", "SourceImageSequence", "ReferencedImageSequence"):
        for item in ds.get(keyword, None) or []:
            uid = text_or_none(item.get("SeriesInstanceUID"))
            if uid and uid not in out:
                out.append(uid)
    return out


def _group(ds: Any, keyword: str) -> Any:
    """The first item of functional group ``keyword`` (shared groups first, then the first frame's)."""
    for outer in ("SharedFunctionalGroupsSequence", "PerFrameFunctionalGroupsSequence"):
        items = ds.get(outer, None) or []
        if items and keyword in items[0]:
            inner = items[0].get(keyword) or []
            if inner:
                return inner[0]
    return None


def _enhanced(ds: Any, facts: dict[str, Any]) -> None:
    """Fill the facts of an enhanced multi-frame MR from its functional groups (PS3.3 C.7.6.16)."""
    pixel = _group(ds, "PixelMeasuresSequence")
    if pixel is not None:
        facts["pixel_spacing_mm"] = facts["pixel_spacing_mm"] or _floats(pixel.get("PixelSpacing"), 2)
        facts["slice_thickness_mm"] = facts["slice_thickness_mm"] or float_or_none(pixel.get("SliceThickness"))
    orient = _group(ds, "PlaneOrientationSequence")
    if orient is not None and facts["orientation"] is None:
        facts["orientation"] = _floats(orient.get("ImageOrientationPatient"), 6)
    timing = _group(ds, "MRTimingAndRelatedParametersSequence")
    if timing is not None and facts["repetition_time_ms"] is None:
        facts["repetition_time_ms"] = float_or_none(timing.get("RepetitionTime"))
    echo = _group(ds, "MREchoSequence")
    if echo is not None and facts["echo_time_ms"] is None:
        facts["echo_time_ms"] = float_or_none(echo.get("EffectiveEchoTime"))
    modifier = _group(ds, "MRModifierSequence")
    if modifier is not None and facts["inversion_time_ms"] is None:
        facts["inversion_time_ms"] = float_or_none(next(iter(modifier.get("InversionTimes", None) or []), None))
    diffusion = _group(ds, "MRDiffusionSequence")
    if diffusion is not None and facts["diffusion_b_value"] is None:
        facts["diffusion_b_value"] = float_or_none(diffusion.get("DiffusionBValue"))
    positions = []
    for frame in ds.get("PerFrameFunctionalGroupsSequence", None) or []:
        for item in frame.get("PlanePositionSequence", None) or []:
            pos = _floats(item.get("ImagePositionPatient"), 3)
            if pos is not None:
                positions.append(pos)
    facts["positions"] = positions


def instance_facts(ds: Any) -> dict[str, Any]:
    """The role-deciding facts of one image instance (header only).

    Parameters
    ----------
    ds
        A pydicom dataset (pixel data never touched).

    Returns
    -------
    dict
        Keys of :class:`~radnec.ingest.records.MRFacts` plus ``positions`` (ImagePositionPatient of
        each frame, LPS mm; enhanced multi-frame objects from their functional groups); times in ms,
        lengths in mm.
    """
    agent, route, volume = _contrast(ds)
    facts: dict[str, Any] = {
        "image_type": _multi(ds.get("ImageType")),
        "protocol_name": text_or_none(ds.get("ProtocolName")),
        "sequence_name": text_or_none(ds.get("SequenceName")) or text_or_none(ds.get("PulseSequenceName")),
        "scanning_sequence": _multi(ds.get("ScanningSequence")),
        "sequence_variant": _multi(ds.get("SequenceVariant")),
        "acquisition_type": (text_or_none(ds.get("MRAcquisitionType")) or "").upper() or None,
        "repetition_time_ms": float_or_none(ds.get("RepetitionTime")),
        "echo_time_ms": float_or_none(ds.get("EchoTime")),
        "inversion_time_ms": float_or_none(ds.get("InversionTime")),
        "diffusion_b_value": float_or_none(ds.get("DiffusionBValue")),
        "contrast_agent": agent,
        "contrast_route": route,
        "contrast_volume_ml": volume,
        "slice_thickness_mm": float_or_none(ds.get("SliceThickness")),
        "pixel_spacing_mm": _floats(ds.get("PixelSpacing"), 2),
        "orientation": _floats(ds.get("ImageOrientationPatient"), 6),
        "acquisition_time": _time(ds.get("AcquisitionTime") or ds.get("SeriesTime") or ds.get("ContentTime")),
        "source_series_uids": _source_series(ds),
    }
    position = _floats(ds.get("ImagePositionPatient"), 3)
    facts["positions"] = [position] if position is not None else []
    if "PerFrameFunctionalGroupsSequence" in ds or "SharedFunctionalGroupsSequence" in ds:
        _enhanced(ds, facts)
    return facts


def series_facts(instances: list[dict[str, Any]]) -> MRFacts | None:
    """Fold the :func:`instance_facts` of one series into its :class:`MRFacts` (None when empty)."""
    if not instances:
        return None
    first = instances[0]
    facts = {k: v for k, v in first.items() if k in MRFacts.model_fields}
    for inst in instances[1:]:  # a tag absent from the first instance may be present on others
        for key in ("contrast_agent", "diffusion_b_value", "inversion_time_ms", "acquisition_type"):
            if facts.get(key) is None and inst.get(key) is not None:
                facts[key] = inst[key]
        b = inst.get("diffusion_b_value")
        if b is not None and (facts.get("diffusion_b_value") or 0.0) < b:
            facts["diffusion_b_value"] = b
        for uid in inst.get("source_series_uids", []):
            if uid not in facts["source_series_uids"]:
                facts["source_series_uids"].append(uid)
    times = sorted(t for t in (i.get("acquisition_time") for i in instances) if t)
    facts["acquisition_time"] = times[0] if times else None
    orientation = first.get("orientation")
    positions = [p for i in instances for p in i.get("positions", [])]
    if orientation is not None and positions:
        row, col = np.asarray(orientation[:3]), np.asarray(orientation[3:])
        normal = np.cross(row, col)
        dist = np.unique(np.round(np.asarray(positions) @ normal, 3))
        facts["n_positions"] = int(dist.size)
        if dist.size > 1:
            spacing = float(np.median(np.diff(dist)))
            facts["slice_spacing_mm"] = round(spacing, 4)
            facts["extent_mm"] = round(float(dist[-1] - dist[0]) + spacing, 3)
        elif facts.get("slice_thickness_mm"):
            facts["extent_mm"] = facts["slice_thickness_mm"]
    return MRFacts(**facts)


__all__ = ["instance_facts", "series_facts"]
