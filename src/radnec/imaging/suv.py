"""Body-weight SUV scale factors from PET DICOM headers (QIBA "PET SUV" reference logic).

``SUVbw = activity concentration (Bq/ml) × weight (g) / decay-corrected injected dose (Bq)``, with the
tissue density taken as 1 g/ml. The scale factor returned here multiplies the *rescaled* pixel
values (``stored × RescaleSlope + RescaleIntercept``); it is computed per instance because the scan
time may differ between instances.

The logic follows the QIBA/UCSF "SUV calculation" vendor-neutral pseudo-code (QIBA FDG-PET/CT
technical committee, 2013) as implemented and tested by cornerstonejs/calculate-suv:

* Units ``BQML``: decay the injected dose from the injection time to the *scan time* (DecayCorrection
  ``START``), to nothing (``ADMIN``: the images are already corrected to administration time), or to
  the acquisition time of each instance (``NONE``: not decay-corrected images).
* Scan time: Series Date/Time when it is not after the earliest Acquisition Date/Time in the series;
  otherwise (post-processed series whose series time is the creation time) the GE private
  post-injection scan date/time (0009,100D) when present, else the QIBA back-computation from
  Acquisition Date/Time, Frame Reference Time and Actual Frame Duration, else the earliest
  Acquisition Date/Time.
* Units ``CNTS`` (Philips): the private SUV scale factor (7053,1000) when present; else the private
  activity-concentration factor (7053,1009) converts counts to Bq/ml and the BQML rule follows.
* Units ``GML``: the pixels already are SUVbw (factor 1).

Times are in seconds, activities in Bq, weights in kg (DICOM) converted to g.
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from dataclasses import dataclass, field
from datetime import datetime, timedelta

from pydicom.dataset import Dataset

from radnec.errors import UnitsError

#: Private creator and elements of the Philips PET private group.
PHILIPS_PRIVATE_CREATOR = "Philips PET Private Group"
PHILIPS_SUV_SCALE_ELEMENT = 0x00  # (7053,xx00) SUV Scale Factor
PHILIPS_ACTIVITY_SCALE_ELEMENT = 0x09  # (7053,xx09) Activity Concentration Scale Factor
#: Private creator and element of the GE post-injection scan date/time.
GE_PRIVATE_CREATOR = "GEMS_PETD_01"
GE_SCAN_DATETIME_ELEMENT = 0x0D  # (0009,xx0D)

G_PER_KG = 1000.0
MS_PER_S = 1000.0


@dataclass(frozen=True)
class SuvFactor:
    """The body-weight SUV factor of one PET instance and how it was obtained.

    Attributes
    ----------
    factor
        Multiply rescaled pixel values by this to get SUVbw (g/ml).
    rule
        Which branch of the QIBA logic was used (human readable).
    decay_time_s
        Seconds between injection and the decay reference time (None for ADMIN, CNTS-with-SUV, GML).
    scan_time
        The decay reference time used (None when not needed).
    warnings
        Non-fatal oddities found in the header.
    """

    factor: float
    rule: str
    decay_time_s: float | None = None
    scan_time: datetime | None = None
    warnings: tuple[str, ...] = field(default_factory=tuple)


def _str(ds: Dataset, keyword: str) -> str | None:
    value = ds.get(keyword)
    if value is None or value == "":
        return None
    return str(value).strip() or None


def _parse_dt(date: str | None, time: str | None, *, what: str) -> datetime | None:
    """Combine DICOM DA and TM strings (``YYYYMMDD``, ``HHMMSS.ffffff``) into a datetime."""
    if not date or not time:
        return None
    t = time.strip().replace(":", "")
    frac = 0.0
    if "." in t:
        t, f = t.split(".", 1)
        frac = float("0." + f) if f else 0.0
    t = t.ljust(6, "0")
    try:
        base = datetime.strptime(date.strip()[:8] + t[:6], "%Y%m%d%H%M%S")
    except ValueError as exc:
        raise UnitsError(f"cannot parse {what} date/time {date!r} {time!r}: {exc}") from exc
    return base + timedelta(seconds=frac)


def _parse_datetime(value: str | None, *, what: str) -> datetime | None:
    """Parse a DICOM DT string ``YYYYMMDDHHMMSS.ffffff&ZZXX`` (time-zone offset ignored)."""
    if not value:
        return None
    v = value.strip()
    for sep in ("+", "-"):
        if sep in v[8:]:
            v = v[: 8 + v[8:].index(sep)]
    return _parse_dt(v[:8], v[8:] or "000000", what=what)


def _radiopharm(ds: Dataset) -> Dataset:
    seq = ds.get("RadiopharmaceuticalInformationSequence")
    if seq:
        return seq[0]
    return ds  # flattened metadata (keyword dictionaries) keep the attributes at the top level


def _private_value(ds: Dataset, group: int, creator: str, element: int) -> str | None:
    try:
        block = ds.private_block(group, creator)
    except KeyError:
        return None
    if element not in block:
        return None
    value = block[element].value
    if isinstance(value, bytes):
        value = value.decode("ascii", "ignore")
    text = str(value).strip()
    return text or None


def _float(value: str | None) -> float | None:
    if value is None:
        return None
    try:
        out = float(value)
    except ValueError:
        return None
    return out if math.isfinite(out) else None


def _scan_time(instances: Sequence[Dataset], half_life_s: float) -> tuple[datetime, str]:
    """The QIBA scan (decay reference) time of a series of instances."""
    first = instances[0]
    series_dt = _parse_dt(_str(first, "SeriesDate"), _str(first, "SeriesTime"), what="Series")
    acquisitions = [
        _parse_dt(_str(ds, "AcquisitionDate"), _str(ds, "AcquisitionTime"), what="Acquisition") for ds in instances
    ]
    if any(a is None for a in acquisitions):
        raise UnitsError("AcquisitionDate/AcquisitionTime missing in a PET instance; needed to find the scan time")
    earliest = min(a for a in acquisitions if a is not None)
    if series_dt is not None and series_dt <= earliest:
        return series_dt, "series time (not after the earliest acquisition time)"
    ge = _private_value(first, 0x0009, GE_PRIVATE_CREATOR, GE_SCAN_DATETIME_ELEMENT)
    if ge:
        ge_dt = _parse_datetime(ge, what="GE private post-injection scan")
        if ge_dt is not None:
            return ge_dt, "GE private post-injection scan date/time (0009,100D)"
    # QIBA back-computation for the instance with the earliest acquisition time: Acquisition
    # Date/Time is the frame start, Frame Reference Time (ms) the offset from the wanted scan time to
    # the average-count-rate time within the frame.
    idx = acquisitions.index(earliest)
    ds = instances[idx]
    frame_ref_ms = _float(_str(ds, "FrameReferenceTime"))
    duration_ms = _float(_str(ds, "ActualFrameDuration"))
    if frame_ref_ms and frame_ref_ms > 0 and duration_ms and duration_ms > 0:
        lam = math.log(2.0) / half_life_s
        decay_during_frame = lam * duration_ms / MS_PER_S
        avg_count_time_s = math.log(decay_during_frame / (1.0 - math.exp(-decay_during_frame))) / lam
        scan = earliest - timedelta(seconds=frame_ref_ms / MS_PER_S) + timedelta(seconds=avg_count_time_s)
        return scan, "back-computed from acquisition time, frame reference time and frame duration (QIBA)"
    return earliest, "earliest acquisition time (series time is after it)"


def _injection_time(ds: Dataset, series_date: str | None) -> datetime:
    rp = _radiopharm(ds)
    dt = _parse_datetime(_str(rp, "RadiopharmaceuticalStartDateTime"), what="RadiopharmaceuticalStartDateTime")
    if dt is not None:
        return dt
    t = _str(rp, "RadiopharmaceuticalStartTime")
    dt = _parse_dt(series_date, t, what="RadiopharmaceuticalStartTime")
    if dt is None:
        raise UnitsError(
            "neither RadiopharmaceuticalStartDateTime nor RadiopharmaceuticalStartTime (with SeriesDate) is "
            "present; the injection time is needed for decay correction"
        )
    return dt


def _bqml_factors(instances: Sequence[Dataset]) -> list[SuvFactor]:
    first = instances[0]
    rp = _radiopharm(first)
    weight_kg = _float(_str(first, "PatientWeight"))
    if not weight_kg or weight_kg <= 0:
        raise UnitsError("PatientWeight (kg) is missing or zero; body-weight SUV needs it (enter it with --weight-kg)")
    dose_bq = _float(_str(rp, "RadionuclideTotalDose"))
    if not dose_bq or dose_bq <= 0:
        raise UnitsError("RadionuclideTotalDose (Bq) is missing or zero; SUV needs the injected activity")
    half_life_s = _float(_str(rp, "RadionuclideHalfLife"))
    if not half_life_s or half_life_s <= 0:
        raise UnitsError("RadionuclideHalfLife (s) is missing or zero; SUV needs it for decay correction")
    decay_corr = (_str(first, "DecayCorrection") or "").upper()
    injection = _injection_time(first, _str(first, "SeriesDate"))
    weight_g = weight_kg * G_PER_KG
    if decay_corr == "ADMIN":
        return [SuvFactor(weight_g / dose_bq, "BQML, decay-corrected to administration (ADMIN)")] * len(instances)
    if decay_corr == "START":
        scan, rule = _scan_time(instances, half_life_s)
        times = [(scan, f"BQML, DecayCorrection START, scan time = {rule}")] * len(instances)
    elif decay_corr == "NONE":
        times = []
        for ds in instances:
            acq = _parse_dt(_str(ds, "AcquisitionDate"), _str(ds, "AcquisitionTime"), what="Acquisition")
            if acq is None:
                raise UnitsError("DecayCorrection NONE needs AcquisitionDate/Time of every instance")
            times.append((acq, "BQML, DecayCorrection NONE, decay to each instance's acquisition start"))
    else:
        raise UnitsError(f"DecayCorrection {decay_corr or '(missing)'!r} is not START, ADMIN or NONE")
    out = []
    for scan, rule in times:
        decay_s = (scan - injection).total_seconds()
        if decay_s < 0:
            raise UnitsError(
                f"the scan time {scan.isoformat()} precedes the injection time {injection.isoformat()} "
                f"({decay_s:.0f} s); check RadiopharmaceuticalStartTime/DateTime (a scan after midnight needs "
                "RadiopharmaceuticalStartDateTime)"
            )
        decayed = dose_bq * 2.0 ** (-decay_s / half_life_s)
        out.append(SuvFactor(weight_g / decayed, rule, decay_time_s=decay_s, scan_time=scan))
    return out


def suv_factors(instances: Sequence[Dataset]) -> list[SuvFactor]:
    """Body-weight SUV factors of the instances of ONE PET series.

    Parameters
    ----------
    instances
        pydicom Datasets (pixel data not needed). The radiopharmaceutical attributes are read from the
        Radiopharmaceutical Information Sequence, or from the top level when the Dataset was built from
        flattened metadata.

    Returns
    -------
    list of SuvFactor
        One per instance, in the given order; ``SUVbw = (stored × slope + intercept) × factor``.

    Raises
    ------
    UnitsError
        Missing weight/dose/half-life/times, unknown units or decay correction, images not
        attenuation- or decay-corrected, or instances from different series.
    """
    if not instances:
        raise UnitsError("no PET instances given")
    first = instances[0]
    units = (_str(first, "Units") or "").upper()
    raw = first.get("CorrectedImage") or []
    corrected = [str(raw).upper()] if isinstance(raw, str) else [str(c).upper() for c in raw]
    decay_corr = (_str(first, "DecayCorrection") or "").upper()
    if "ATTN" not in corrected:
        raise UnitsError(f"CorrectedImage {corrected} lacks ATTN: SUV of non-attenuation-corrected PET is meaningless")
    if decay_corr in ("START", "ADMIN") and "DECY" not in corrected:
        raise UnitsError(f"DecayCorrection is {decay_corr} but CorrectedImage {corrected} lacks DECY; header is inconsistent")
    series_keys = ("Units", "PatientWeight", "DecayCorrection", "SeriesDate", "SeriesTime", "SeriesInstanceUID")
    for ds in instances[1:]:
        for key in series_keys:
            if _str(ds, key) != _str(first, key):
                raise UnitsError(
                    f"instances differ in series-level attribute {key} ({_str(first, key)!r} vs {_str(ds, key)!r}); "
                    "give the instances of one PET series only"
                )
    if units == "BQML":
        return _bqml_factors(instances)
    if units == "GML":
        return [SuvFactor(1.0, "GML: pixels are already body-weight SUV")] * len(instances)
    if units == "CNTS":
        suv_scale = [
            _float(_private_value(ds, 0x7053, PHILIPS_PRIVATE_CREATOR, PHILIPS_SUV_SCALE_ELEMENT)) for ds in instances
        ]
        if all(s for s in suv_scale):
            return [SuvFactor(float(s), "CNTS with Philips private SUV scale factor (7053,1000)") for s in suv_scale]
        act_scale = [
            _float(_private_value(ds, 0x7053, PHILIPS_PRIVATE_CREATOR, PHILIPS_ACTIVITY_SCALE_ELEMENT))
            for ds in instances
        ]
        if all(a for a in act_scale):
            bqml = _bqml_factors(instances)
            return [
                SuvFactor(
                    float(a) * b.factor,
                    "CNTS with Philips activity-concentration scale factor (7053,1009), then " + b.rule,
                    decay_time_s=b.decay_time_s,
                    scan_time=b.scan_time,
                )
                for a, b in zip(act_scale, bqml, strict=True)
            ]
        raise UnitsError(
            "Units CNTS without the Philips private SUV (7053,1000) or activity-concentration (7053,1009) "
            "scale factor: counts cannot be converted to SUV"
        )
    raise UnitsError(f"PET Units {units or '(missing)'!r} not supported for SUV (expected BQML, CNTS or GML)")


def dataset_from_metadata(meta: dict) -> Dataset:
    """Build a pydicom Dataset from a flattened PET metadata dictionary (keyword → value).

    The cornerstonejs/calculate-suv test metadata uses DICOM keywords plus a ``PhilipsPETPrivateGroup``
    object (``SUVScaleFactor``, ``ActivityConcentrationScaleFactor``) and an optional
    ``GEPrivatePostInjectionDateTime``; they are written to their real private tags here so that the
    same code path as for real files is exercised.
    """
    ds = Dataset()
    rp = Dataset()
    rp_keys = {
        "RadionuclideTotalDose",
        "RadionuclideHalfLife",
        "RadiopharmaceuticalStartTime",
        "RadiopharmaceuticalStartDateTime",
    }
    for key, value in meta.items():
        if key == "PhilipsPETPrivateGroup":
            if value:
                block = ds.private_block(0x7053, PHILIPS_PRIVATE_CREATOR, create=True)
                if value.get("SUVScaleFactor") is not None:
                    block.add_new(PHILIPS_SUV_SCALE_ELEMENT, "DS", str(value["SUVScaleFactor"]).strip())
                if value.get("ActivityConcentrationScaleFactor") is not None:
                    block.add_new(
                        PHILIPS_ACTIVITY_SCALE_ELEMENT, "DS", str(value["ActivityConcentrationScaleFactor"]).strip()
                    )
            continue
        if key == "GEPrivatePostInjectionDateTime":
            block = ds.private_block(0x0009, GE_PRIVATE_CREATOR, create=True)
            block.add_new(GE_SCAN_DATETIME_ELEMENT, "DT", str(value))
            continue
        target = rp if key in rp_keys else ds
        if isinstance(value, float):
            value = repr(value)[:16]
        setattr(target, key, value)
    ds.RadiopharmaceuticalInformationSequence = [rp]
    return ds


__all__ = ["SuvFactor", "suv_factors", "dataset_from_metadata"]
