"""The analysis as a Comprehensive 3D SR, TID 1500 measurement report (highdicom).

One TID 1411 volumetric measurement group per follow-up, lesion and compartment, each referencing
its segment in that follow-up's SEG (and so, through the SEG, the source T1c series) and
carrying the time point (TID 1502):

* every compartment: its volume (SCT 118565006 "Volume", cm³) from ``analysis.json``;
* the whole T1c lesion also: the RANO-BM longest diameter (SCT 103339001 "Long axis", mm) and
  the perpendicular diameter (SCT 103340004 "Short axis", mm);
* the whole T1c lesion at the LAST exported follow-up also the lesion-level results: dose metrics
  (Gy, %), P(progression) and its 95 % interval (unitless "1"), and as qualitative evaluations the
  failure pattern, the growth symmetry and the evidence band.

Concepts without a standard code use radnec's private coding scheme :data:`SCHEME` ("99RADNEC",
PS3.3 8.2: private schemes start with "99"), each with a plain-English meaning. Numbers are
written exactly as ``analysis.json`` holds them, so a reader gets them back equal.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

from pydicom.dataset import Dataset
from pydicom.sr.coding import Code
from pydicom.uid import generate_uid

from radnec import __version__
from radnec.case import Analysis, Lesion, Timepoint
from radnec.errors import MissingReferenceError
from radnec.export.seg import SegmentInfo

SCHEME = "99RADNEC"
VOLUME = Code("118565006", "SCT", "Volume")
LONG_AXIS = Code("103339001", "SCT", "Long axis")
SHORT_AXIS = Code("103340004", "SCT", "Short axis")
MRI = Code("113091000", "SCT", "Magnetic resonance imaging")
BRAIN = Code("12738006", "SCT", "Brain")
CM3 = Code("cm3", "UCUM", "cubic centimeter")
MM = Code("mm", "UCUM", "millimeter")
GY = Code("Gy", "UCUM", "Gray")
PERCENT = Code("%", "UCUM", "percent")
UNITLESS = Code("1", "UCUM", "no units")

#: Lesion-level dose metrics: (attribute path in LesionDose, private code value, meaning, unit).
DOSE_ITEMS = (
    ("dmin_gy", "DMIN", "Minimum dose in lesion from prior SRS", GY),
    ("dmean_gy", "DMEAN", "Mean dose in lesion from prior SRS", GY),
    ("dmax_gy", "DMAX", "Maximum dose in lesion from prior SRS", GY),
    ("d95_gy", "D95", "Dose to 95 % of lesion from prior SRS", GY),
    ("coverage_pct.rx100", "V100RX", "Lesion volume receiving >= 100 % Rx", PERCENT),
    ("coverage_pct.rx80", "V80RX", "Lesion volume receiving >= 80 % Rx", PERCENT),
    ("coverage_pct.rx50", "V50RX", "Lesion volume receiving >= 50 % Rx", PERCENT),
)
P_PROGRESSION = Code("PPROG", SCHEME, "Probability of tumour progression")
P_LOWER = Code("PPROGLO", SCHEME, "Probability of progression, 95 % interval lower")
P_UPPER = Code("PPROGHI", SCHEME, "Probability of progression, 95 % interval upper")
PATTERN = Code("PATTERN", SCHEME, "Failure pattern relative to prior SRS dose")
SYMMETRY = Code("SYMMETRY", SCHEME, "Growth symmetry relative to high-dose region")
BAND = Code("PBAND", SCHEME, "Evidence band of P(progression)")
COMPARTMENT_VOLUME = {"lesion": None, "enhancing": "enhancing_cc", "necrotic": "necrotic_cc", "edema": "edema_cc"}


def _value_code(value: str) -> Code:
    return Code(value.upper()[:16], SCHEME, value)


@dataclass(frozen=True)
class ExportedSeg:
    """A written SEG as the SR needs it: the dataset, the time point and its segments."""

    dataset: Dataset
    timepoint: str
    segments: Sequence[SegmentInfo]


def find_timepoint(lesion: Lesion, label: str, date: str | None) -> Timepoint:
    """The lesion's time point with ``details.label == label`` (else the same ``date``).

    Raises
    ------
    MissingReferenceError
        No such time point in ``analysis.json``.
    """
    for tp in lesion.timepoints:
        if tp.details.get("label") == label:
            return tp
    for tp in lesion.timepoints:
        if date is not None and tp.date == date:
            return tp
    raise MissingReferenceError(
        f"analysis.json has no time point {label!r} (date {date}) for lesion {lesion.name!r}; available: "
        f"{[tp.details.get('label', tp.date) for tp in lesion.timepoints]}"
    )


def _path(obj: object, path: str) -> float | None:
    for part in path.split("."):
        obj = getattr(obj, part, None)
        if obj is None:
            return None
    return float(obj)


def _lesion_level(lesion: Lesion) -> tuple[list, list]:
    import highdicom as hd

    measurements, evaluations = [], []
    if lesion.dose is not None:
        for attr, code, meaning, unit in DOSE_ITEMS:
            value = _path(lesion.dose, attr)
            if value is not None:
                measurements.append(hd.sr.Measurement(name=Code(code, SCHEME, meaning), value=value, unit=unit))
    evidence = lesion.evidence or {}
    if evidence.get("posterior_tp") is not None:
        measurements.append(hd.sr.Measurement(name=P_PROGRESSION, value=float(evidence["posterior_tp"]), unit=UNITLESS))
        interval = evidence.get("interval95") or []
        if len(interval) == 2:
            measurements.append(hd.sr.Measurement(name=P_LOWER, value=float(interval[0]), unit=UNITLESS))
            measurements.append(hd.sr.Measurement(name=P_UPPER, value=float(interval[1]), unit=UNITLESS))
    if lesion.pattern:
        evaluations.append(hd.sr.QualitativeEvaluation(name=PATTERN, value=_value_code(lesion.pattern)))
    if lesion.growth_symmetry:
        evaluations.append(hd.sr.QualitativeEvaluation(name=SYMMETRY, value=_value_code(lesion.growth_symmetry)))
    if evidence.get("band"):
        evaluations.append(hd.sr.QualitativeEvaluation(name=BAND, value=_value_code(str(evidence["band"]))))
    return measurements, evaluations


def measurement_report(
    *,
    analysis: Analysis,
    segs: Sequence[ExportedSeg],
    dates: dict[str, str | None],
    series_number: int = 9904,
) -> Dataset:
    """The TID 1500 report of ``analysis`` referencing the segments of ``segs``.

    Parameters
    ----------
    analysis
        The analysis whose numbers are reported.
    segs
        The exported SEGs in time order; the lesion-level results go with the last one.
    dates
        Time-point label → study date (``YYYY-MM-DD`` or ``None``) to match ``analysis.json``.
    """
    import highdicom as hd

    lesions = {lesion.name: lesion for lesion in analysis.lesions}
    groups = []
    for order, seg in enumerate(segs, start=1):
        time_point = hd.sr.TimePointContext(time_point=seg.timepoint[:64], time_point_order=order)
        source_series = hd.sr.SourceSeriesForSegmentation(seg.dataset.ReferencedSeriesSequence[0].SeriesInstanceUID)
        for info in seg.segments:
            lesion = lesions.get(info.lesion)
            if lesion is None:
                raise MissingReferenceError(f"analysis.json has no lesion {info.lesion!r} (SEG of {seg.timepoint})")
            tp = find_timepoint(lesion, seg.timepoint, dates.get(seg.timepoint))
            measurements, evaluations = [], []
            key = COMPARTMENT_VOLUME[info.compartment]
            volume = getattr(tp, key) if key else tp.details.get("lesion_cc")
            if volume is None and info.compartment == "lesion":
                volume = tp.enhancing_cc + (tp.necrotic_cc or 0.0)
            if volume is not None:
                measurements.append(hd.sr.Measurement(name=VOLUME, value=float(volume), unit=CM3))
            if info.compartment == "lesion":
                measurements.append(hd.sr.Measurement(name=LONG_AXIS, value=float(tp.longest_diameter_mm), unit=MM))
                if tp.perpendicular_diameter_mm is not None:
                    measurements.append(
                        hd.sr.Measurement(name=SHORT_AXIS, value=float(tp.perpendicular_diameter_mm), unit=MM)
                    )
                if order == len(segs):
                    more, evaluations = _lesion_level(lesion)
                    measurements.extend(more)
            groups.append(
                hd.sr.VolumetricROIMeasurementsAndQualitativeEvaluations(
                    tracking_identifier=hd.sr.TrackingIdentifier(uid=info.tracking_uid, identifier=info.label),
                    referenced_segment=hd.sr.ReferencedSegment(
                        sop_class_uid=seg.dataset.SOPClassUID,
                        sop_instance_uid=seg.dataset.SOPInstanceUID,
                        segment_number=info.number,
                        source_series=source_series,
                    ),
                    time_point_context=time_point,
                    finding_type=hd.sr.CodedConcept(*_concept(info.compartment)),
                    finding_sites=[hd.sr.FindingSite(anatomic_location=BRAIN)],
                    measurements=measurements,
                    qualitative_evaluations=evaluations or None,
                )
            )
    observer = hd.sr.ObserverContext(
        observer_type=hd.sr.CodedConcept("121007", "DCM", "Device"),
        observer_identifying_attributes=hd.sr.DeviceObserverIdentifyingAttributes(
            uid=generate_uid(), name="radnec", manufacturer_name="radnec", model_name=f"radnec {__version__}"
        ),
    )
    report = hd.sr.MeasurementReport(
        observation_context=hd.sr.ObservationContext(observer_device_context=observer),
        procedure_reported=MRI,
        imaging_measurements=groups,
    )
    return hd.sr.Comprehensive3DSR(
        evidence=[seg.dataset for seg in segs],
        content=report,
        series_instance_uid=generate_uid(),
        series_number=series_number,
        sop_instance_uid=generate_uid(),
        instance_number=1,
        manufacturer="radnec",
        is_complete=True,
        series_description="radnec measurements (research use)",
    )


def _concept(compartment: str) -> tuple[str, str, str]:
    from radnec.export.seg import PROPERTY_TYPES

    code = PROPERTY_TYPES[compartment]
    return code.value, code.scheme_designator, code.meaning


__all__ = ["ExportedSeg", "measurement_report", "find_timepoint", "SCHEME"]
