"""Time points of dynamic (multi-temporal) MR series, decided from the image headers.

A classic MR series whose slice positions repeat once per time point (all time frames of a 4-D
acquisition such as DSC perfusion in one series) is *dynamic*: :func:`temporal_frames` groups its
images into time points from facts the scan has already read (:func:`temporal_facts`); the helpers
below read only the headers of a list of files. Shared by the scan (:mod:`radnec.ingest.scan`) and
the stack reader (:mod:`radnec.ingest.series`), which it imports neither of.
"""

from __future__ import annotations

import os
import warnings
from collections.abc import Sequence
from typing import Any

#: Attributes that number the time points of a dynamic (multi-temporal) series, in order of preference.
TEMPORAL_KEYS = ("TemporalPositionIdentifier", "AcquisitionNumber", "TriggerTime", "AcquisitionTime")
#: Attributes that, when they take more than one value in a series, mean that repeated positions are
#: several contrasts (echoes, inversion times, b-values), not only time points.
CONTRAST_KEYS = ("EchoNumbers", "InversionTime", "DiffusionBValue")
#: Decimals (mm) of ImagePositionPatient that decide whether two images of a series share a position.
#: 0.01 mm is the floor of :func:`radnec.ingest.series.spacing_tolerance_mm`; the time frames of one acquisition carry
#: bit-identical positions.
POSITION_DECIMALS = 2

#: What :func:`temporal_facts` returns for one image: its rounded position (None when it has none) and
#: the values of :data:`TEMPORAL_KEYS` and :data:`CONTRAST_KEYS` it carries.
TemporalFacts = tuple[tuple[float, ...] | None, dict[str, str]]


def temporal_facts(ds: Any) -> TemporalFacts:
    """The header facts :func:`temporal_frames` needs, from one classic (single-frame) image header."""
    ipp = ds.get("ImagePositionPatient")
    try:
        pos = tuple(round(float(v), POSITION_DECIMALS) for v in ipp) if ipp is not None else None
    except (TypeError, ValueError):
        pos = None
    keys: dict[str, str] = {}
    for key in (*TEMPORAL_KEYS, *CONTRAST_KEYS):
        value = ds.get(key)
        if value is not None and str(value).strip() != "":
            keys[key] = str(value).strip()
    return pos, keys


def temporal_frames(facts: Sequence[TemporalFacts]) -> tuple[list[list[int]], str | None]:
    """Group the images of one series into time points when it is a dynamic (multi-temporal) series.

    A series is dynamic when (1) every image has a position, (2) positions repeat: every position
    occurs ``n`` or ``n - 1`` times (``n >= 2``; ``n - 1`` allows an incomplete last time point, which
    the 4-D reader then reports) and at least twice, (3) no attribute of :data:`CONTRAST_KEYS` varies
    (several echoes or b-values are not a time series), and (4) one attribute of :data:`TEMPORAL_KEYS`,
    present in every image, takes a different value for every image at the same position. A 3-D
    series with a duplicated slice, or a copy of a whole stack, fails (2) or (4) and stays a 3-D
    series, which :func:`radnec.ingest.series.load_series` refuses with the duplicate position.

    Parameters
    ----------
    facts
        :func:`temporal_facts` of each image, in any order.

    Returns
    -------
    frames, key
        ``frames[t]`` = indices into ``facts`` of time point ``t`` (ordered by ``key``, numerically when
        possible); ``([], None)`` when the series is not dynamic.
    """
    if len(facts) < 2 or any(pos is None for pos, _ in facts):
        return [], None
    by_pos: dict[Any, list[int]] = {}
    for i, (pos, _) in enumerate(facts):
        by_pos.setdefault(pos, []).append(i)
    counts = [len(v) for v in by_pos.values()]
    n = max(counts)
    if n < 2 or min(counts) < max(2, n - 1):
        return [], None
    for key in CONTRAST_KEYS:
        if len({keys.get(key) for _, keys in facts}) > 1:
            return [], None

    def order(v: str) -> tuple[int, float, str]:
        try:
            return (0, float(v), v)
        except ValueError:
            return (1, 0.0, v)

    for key in TEMPORAL_KEYS:
        if any(key not in keys for _, keys in facts):
            continue
        if any(len({facts[i][1][key] for i in idx}) != len(idx) for idx in by_pos.values()):
            continue
        frames: list[list[int]] = [[] for _ in range(n)]
        for idx in by_pos.values():
            for t, i in enumerate(sorted(idx, key=lambda i: order(facts[i][1][key]))):
                frames[t].append(i)
        return frames, key
    return [], None


def _read_temporal_facts(files: Sequence[str]) -> list[TemporalFacts]:
    import pydicom

    facts: list[TemporalFacts] = []
    for f in files:
        try:
            with warnings.catch_warnings():
                warnings.simplefilter("ignore")
                ds = pydicom.dcmread(
                    f, stop_before_pixels=True, specific_tags=["ImagePositionPatient", *TEMPORAL_KEYS, *CONTRAST_KEYS]
                )
        except Exception:  # noqa: BLE001 - unreadable files are reported by the readers themselves
            continue
        facts.append(temporal_facts(ds))
    return facts


def count_timepoints(files: Sequence[str | os.PathLike[str]]) -> int:
    """Number of time points of a DICOM series given as files: 1 unless it is dynamic
    (see :func:`temporal_frames`). Reads only the headers."""
    frames, _ = temporal_frames(_read_temporal_facts([str(f) for f in files]))
    return len(frames) if frames else 1


def is_dynamic(files: Sequence[str | os.PathLike[str]], *, min_timepoints: int = 2) -> bool:
    """Whether the files form a dynamic (multi-temporal) series with at least ``min_timepoints``
    time points (see :func:`temporal_frames`). Reads only the headers."""
    if len(files) < min_timepoints:
        return False
    return count_timepoints(files) >= min_timepoints


def split_timepoints(files: Sequence[str | os.PathLike[str]]) -> list[list[str]]:
    """The files of a dynamic series grouped by time point (each group a 3-D stack for
    :func:`radnec.ingest.series.load_series`); ``[]`` when the series is not dynamic."""
    names = [str(f) for f in files]
    facts = _read_temporal_facts(names)
    if len(facts) != len(names):
        return []  # an unreadable file: let load_series name it
    frames, _ = temporal_frames(facts)
    return [[names[i] for i in frame] for frame in frames]


__all__ = [
    "TEMPORAL_KEYS",
    "CONTRAST_KEYS",
    "POSITION_DECIMALS",
    "TemporalFacts",
    "temporal_facts",
    "temporal_frames",
    "count_timepoints",
    "is_dynamic",
    "split_timepoints",
]
