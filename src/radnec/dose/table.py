"""The DVH table of a plan's structures: one row per ROI, judged against its own prescription and
compared with the planning system's DVH stored in the RTDOSE (``radnec dvh``).

What belongs together is checked first: the RTDOSE and the RTSTRUCT must share a frame of
reference (:func:`require_same_frame`). Each ROI's DVH is computed by :func:`radnec.dose.dvh.dvh`
(dose in Gy, volumes in cm³); its relative metrics use the prescription of that target
(:func:`roi_prescription_gy`: a multi-target plan prescribes each target its own dose), and the
planning system's own curve, when the RTDOSE carries one, is summarised next to radnec's
(:func:`tps_comparison`).
"""

from __future__ import annotations

from collections.abc import Sequence
from pathlib import Path
from typing import TYPE_CHECKING, Any

from radnec.dose.dvh import DVH, dvh
from radnec.dose.interpolation import PlaneInterpolation
from radnec.errors import FrameOfReferenceError, GeometryError, MissingReferenceError

if TYPE_CHECKING:  # pragma: no cover
    from radnec.ingest.rtdose import RTDose
    from radnec.ingest.rtplan import RTPlan

#: Relative dose levels (percent of the prescription) of the ``coverage_pct`` entries.
COVERAGE_LEVELS_PCT = (100, 80, 50)
#: Bin width (Gy) of the cumulative curve in a row.
CURVE_BIN_GY = 0.1


def require_same_frame(
    dose_frame_uid: str | None, struct_frame_uid: str | None, *, allow_other_frame: bool, path: Path
) -> None:
    """Refuse an RTDOSE and an RTSTRUCT in different frames of reference (when both state one).

    Raises
    ------
    FrameOfReferenceError
        The frames differ and ``allow_other_frame`` is False; names ``path`` (the RTSTRUCT).
    """
    if dose_frame_uid and struct_frame_uid and dose_frame_uid != struct_frame_uid and not allow_other_frame:
        raise FrameOfReferenceError(
            f"RTDOSE frame of reference {dose_frame_uid} differs from the RTSTRUCT's "
            f"{struct_frame_uid}; they do not belong together (use --allow-other-frame only if you know "
            "both share the same coordinates)",
            path=path,
        )


def select_rois(structure_set: Any, names: Sequence[str] | None, *, path: Path) -> list[Any]:
    """The ROIs called ``names`` (case-insensitive), or every ROI with contours when ``names`` is empty.

    Raises
    ------
    MissingReferenceError
        A named ROI does not exist, or no ROI has contours.
    """
    if names:
        return [structure_set.roi(name) for name in names]
    selected = [r for r in structure_set.rois if r.contours]
    if not selected:
        raise MissingReferenceError("the structure set has no ROI with contours", path=path)
    return selected


def roi_prescription_gy(roi_number: int, *, plan: RTPlan | None, override_gy: float | None) -> float | None:
    """The prescription (Gy) an ROI's DVH is judged against.

    ``override_gy`` (the user's ``--rx``) for every ROI when given; otherwise the plan's prescription
    of that target (a multi-target plan prescribes each target its own dose), the plan's
    prescription for an ROI that is not a target, and None without a plan.
    """
    if override_gy is not None:
        return override_gy
    if plan is None:
        return None
    return plan.target_prescriptions_gy.get(roi_number, plan.prescription_gy)


def tps_comparison(tps: Any, histogram: DVH) -> dict[str, Any]:
    """The planning system's DVH of one ROI (an :class:`radnec.ingest.rtdose.EmbeddedDVH`) next to radnec's.

    Volumes (cm³) are given only when the TPS states them in CM3; ``radnec_volume_cc_at_first_bin_centre``
    is radnec's volume receiving at least the TPS's first bin centre (the TPS's V[0]).
    """
    cm3 = tps.volume_units == "CM3"
    first = tps.first_bin_centre_gy
    return {
        # V[0] of the planning system's curve: the volume at >= its first bin centre
        "volume_cc": tps.total_volume if cm3 else None,
        "first_bin_centre_gy": first,
        "radnec_volume_cc_at_first_bin_centre": histogram.v_gy(first) if first is not None and histogram.doses_gy.size else None,
        # the whole structure, from the curve's dose integral and the stated mean
        "volume_from_mean_cc": tps.volume_from_mean if cm3 else None,
        "dmean_gy": tps.dmean_gy,
        "dmax_gy": tps.dmax_gy,
        "dose_units": tps.dose_units,
        "summary_dose_units": tps.summary_dose_units,
        "note": tps.note,
    }


def dvh_rows(
    dose: RTDose,
    rois: Sequence[Any],
    *,
    plan: RTPlan | None,
    override_gy: float | None,
    supersample: int,
    end_cap: bool,
    interpolation: PlaneInterpolation,
    cumulative: bool,
    fail_on_geometry_error: bool,
    path: Path,
) -> list[dict[str, Any]]:
    """One row per ROI: the DVH summary, its prescription and coverage, the cumulative curve and the TPS DVH.

    Parameters
    ----------
    dose
        The RTDOSE (dose image in Gy and the planning system's embedded DVHs).
    rois
        RTSTRUCT ROIs in the dose's frame of reference (see :func:`require_same_frame`).
    plan, override_gy
        Prescription sources (see :func:`roi_prescription_gy`).
    supersample, end_cap, interpolation
        Structure sampling options of :func:`radnec.dose.dvh.dvh`.
    cumulative
        Add the cumulative DVH (``CURVE_BIN_GY`` steps; dose Gy, volume cm³).
    fail_on_geometry_error
        Raise when an ROI cannot be sampled (ROIs the user named); otherwise the row carries the
        ``error`` message and the table goes on.
    path
        The RTSTRUCT file, named in errors.

    Returns
    -------
    list of dict
        ``number``, ``name``, ``type``, the :meth:`radnec.dose.dvh.DVH.summary` entries, and when
        known ``prescription_gy``, ``coverage_pct`` (``rxNN``: % of the volume receiving at least
        NN % of the prescription), ``cumulative`` and ``tps``.
    """
    rows = []
    for r in rois:
        entry: dict[str, Any] = {"number": r.number, "name": r.name, "type": r.type}
        try:
            h = dvh(dose.image, r, supersample=supersample, end_cap=end_cap, interpolation=interpolation)
        except GeometryError as exc:
            if fail_on_geometry_error:
                raise GeometryError(f"ROI {r.name!r}: {exc.message}", path=path) from exc
            entry["error"] = exc.message
            rows.append(entry)
            continue
        entry.update(h.summary())
        roi_rx = roi_prescription_gy(r.number, plan=plan, override_gy=override_gy)
        if roi_rx:
            entry["prescription_gy"] = roi_rx
            entry["coverage_pct"] = {f"rx{p}": h.v_gy(roi_rx * p / 100.0, relative=True) for p in COVERAGE_LEVELS_PCT}
        if cumulative and h.doses_gy.size:
            edges, vol = h.cumulative(bin_width_gy=CURVE_BIN_GY)
            entry["cumulative"] = {"dose_gy": edges.tolist(), "volume_cc": vol.tolist()}
        tps = dose.embedded_dvhs.get(r.number)
        if tps is not None:
            entry["tps"] = tps_comparison(tps, h)
        rows.append(entry)
    return rows


__all__ = [
    "COVERAGE_LEVELS_PCT",
    "CURVE_BIN_GY",
    "require_same_frame",
    "select_rois",
    "roi_prescription_gy",
    "tps_comparison",
    "dvh_rows",
]
