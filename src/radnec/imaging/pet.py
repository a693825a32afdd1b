"""PET: read a PET series into a body-weight SUV image, lesion SUV statistics and TBR.

``load_pet_suv`` reads DICOM PET instances (a file or a folder) with pydicom, computes the SUVbw
factor of every instance (:mod:`radnec.imaging.suv`, QIBA logic) and builds a 3-D SUV image in LPS
millimetres. ``pet_lesion_stats`` gives SUVmax/SUVmean in a lesion and TBRmax/TBRmean against a
background (user mask, or the lesion mirrored across the mid-sagittal plane).

Conventions: TBRmax = lesion SUVmax / background SUVmean and TBRmean = lesion SUVmean / background
SUVmean, as in the FET-PET metastasis studies cited in ``thresholds.yaml``; for MET, TBRmax is the
lesion-to-normal ratio of maxima (lesion SUVmax / background SUVmax) as in the cited MET study.
"""

from __future__ import annotations

import logging
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np
import SimpleITK as sitk

from radnec.errors import GeometryError, InputError, UnitsError
from radnec.geometry import require_same_grid
from radnec.imaging.knowledge import observation
from radnec.imaging.suv import SuvFactor, suv_factors

log = logging.getLogger(__name__)

#: Tracer recognition in (0018,0031) Radiopharmaceutical and the code meanings, lower case: whole
#: tokens for abbreviations, substrings for chemical names. Checked in this order.
TRACER_TOKENS: tuple[tuple[str, tuple[str, ...], tuple[str, ...]], ...] = (
    ("FET", ("fet",), ("fluoroethyl", "fluorethyl")),
    ("FDOPA", ("fdopa", "dopa"), ("fluorodopa", "dihydroxyphenylalanine")),
    ("MET", ("met", "mets"), ("methionine",)),
    ("FLT", ("flt",), ("fluorothymidine",)),
    ("FDG", ("fdg",), ("fluorodeoxyglucose", "deoxyglucose")),
)
AMINO_ACID_TRACERS = ("FET", "MET", "FDOPA")
#: Tracers whose cited TBRmax cut-off normalises to the background maximum (MET: Yomo 2017 LNR).
TBR_MAX_OVER_BACKGROUND_MAX = ("MET",)
#: Relative tolerance for non-uniform slice spacing (fraction of the median spacing).
SLICE_SPACING_RTOL = 1e-2


@dataclass(frozen=True)
class PetSuv:
    """A PET series as body-weight SUV.

    Attributes
    ----------
    suv
        3-D ``sitkFloat32`` SUVbw image (g/ml), LPS mm geometry.
    factors
        The per-slice SUV factors (order of increasing slice position).
    tracer
        ``FDG``, ``FET``, ``MET``, ``FDOPA``, ``FLT`` or None when unknown.
    units
        The DICOM Units of the stored values (BQML, CNTS, GML).
    files
        The files read, sorted by slice position.
    """

    suv: sitk.Image
    factors: tuple[SuvFactor, ...]
    tracer: str | None
    units: str
    files: tuple[Path, ...]


def detect_tracer(ds: Any) -> str | None:
    """Tracer abbreviation (FET, FDOPA, MET, FLT, FDG) from the Radiopharmaceutical Information Sequence,
    or None when it is absent or not recognised."""
    import re

    texts: list[str] = []
    for item in ds.get("RadiopharmaceuticalInformationSequence") or []:
        texts.append(str(item.get("Radiopharmaceutical", "")))
        for code in item.get("RadiopharmaceuticalCodeSequence", []) or []:
            texts.append(str(code.get("CodeMeaning", "")))
    text = " ".join(texts).lower()
    tokens = set(re.split(r"[^a-z0-9]+", text.replace("18f", " ").replace("11c", " ")))
    for name, abbreviations, names in TRACER_TOKENS:
        if tokens & set(abbreviations) or any(n in text for n in names):
            return name
    return None


def _read_instances(path: Path) -> list[tuple[Path, Any]]:
    import pydicom
    from pydicom.errors import InvalidDicomError

    if not path.exists():
        raise InputError("no such file or folder", path=path)
    files = sorted(p for p in path.rglob("*") if p.is_file()) if path.is_dir() else [path]
    out = []
    for f in files:
        try:
            ds = pydicom.dcmread(f)
        except (InvalidDicomError, OSError):
            if path.is_dir():
                continue
            raise InputError("not a DICOM file (PET instances are expected)", path=f) from None
        if str(ds.get("Modality", "")) != "PT":
            if path.is_dir():
                continue
            raise InputError(f"Modality is {ds.get('Modality')!r}, not 'PT' (a PET image is expected)", path=f)
        out.append((f, ds))
    if not out:
        raise InputError("no PET (Modality PT) DICOM instance found", path=path)
    series = {str(ds.get("SeriesInstanceUID", "")) for _, ds in out}
    if len(series) > 1:
        raise InputError(f"{len(series)} PET series found; give the folder of one series", path=path)
    return out


def _geometry(instances: list[tuple[Path, Any]], path: Path) -> tuple[list[tuple[Path, Any]], tuple, tuple, tuple]:
    """Sort instances along the slice normal; return (sorted, origin, spacing, direction)."""
    first = instances[0][1]
    try:
        iop = np.array([float(v) for v in first.ImageOrientationPatient])
        spacing_rc = [float(v) for v in first.PixelSpacing]
    except AttributeError as exc:
        raise GeometryError(f"PET instance lacks {exc.name or 'ImageOrientationPatient/PixelSpacing'}", path=path) from None
    row, col = iop[:3], iop[3:]
    normal = np.cross(row, col)
    pos = [np.array([float(v) for v in ds.ImagePositionPatient]) for _, ds in instances]
    dist = np.array([p @ normal for p in pos])
    order = np.argsort(dist, kind="stable")
    inst = [instances[i] for i in order]
    d = dist[order]
    if len(d) > 1:
        gaps = np.diff(d)
        if np.any(np.isclose(gaps, 0.0, atol=1e-3)):
            raise GeometryError(
                "several PET instances share a slice position (dynamic frames?); give one static frame", path=path
            )
        med = float(np.median(gaps))
        if np.any(np.abs(gaps - med) > SLICE_SPACING_RTOL * med):
            raise GeometryError(f"non-uniform PET slice spacing ({gaps.min():.3f}-{gaps.max():.3f} mm)", path=path)
        dz = med
    else:
        dz = float(first.get("SliceThickness") or first.get("SpacingBetweenSlices") or 1.0)
    origin = tuple(float(v) for v in pos[order[0]])
    spacing = (spacing_rc[1], spacing_rc[0], dz)
    direction = tuple(np.column_stack([row, col, normal]).ravel().tolist())
    return inst, origin, spacing, direction


def load_pet_suv(path: str | Path, *, weight_kg: float | None = None, tracer: str | None = None) -> PetSuv:
    """Read one PET series (a file or a folder) as a body-weight SUV image.

    Parameters
    ----------
    path
        A PET DICOM file or a folder holding one PET series.
    weight_kg
        Patient weight (kg) overriding a missing/zero PatientWeight.
    tracer
        Tracer override (FDG, FET, MET, FDOPA, FLT); else detected from the header.
    """
    path = Path(path)
    instances = _read_instances(path)
    instances, origin, spacing, direction = _geometry(instances, path)
    datasets = [ds for _, ds in instances]
    if weight_kg is not None:
        if not weight_kg > 0:
            raise UnitsError(f"--weight-kg must be positive, got {weight_kg}")
        for ds in datasets:
            ds.PatientWeight = f"{weight_kg:.4f}"
    try:
        factors = suv_factors(datasets)
    except UnitsError as exc:
        raise UnitsError(exc.message, path=path) from None
    slices = []
    for (f, ds), fac in zip(instances, factors, strict=True):
        if "PixelData" not in ds:
            raise InputError("PET instance has no pixel data", path=f)
        arr = ds.pixel_array.astype(np.float64)
        slope = float(ds.get("RescaleSlope", 1.0) or 1.0)
        intercept = float(ds.get("RescaleIntercept", 0.0) or 0.0)
        slices.append((arr * slope + intercept) * fac.factor)
    vol = np.stack(slices).astype(np.float32)
    img = sitk.GetImageFromArray(vol)
    img.SetOrigin(origin)
    img.SetSpacing(spacing)
    img.SetDirection(direction)
    found = tracer.upper() if tracer else detect_tracer(datasets[0])
    units = str(datasets[0].get("Units", "")).upper()
    log.info("PET: %d slices, units %s, tracer %s, SUV factor %.4g", len(slices), units, found, factors[0].factor)
    return PetSuv(img, tuple(factors), found, units, tuple(f for f, _ in instances))


def pet_lesion_stats(
    suv: sitk.Image,
    lesion: sitk.Image,
    *,
    background: sitk.Image | None = None,
    tracer: str | None = None,
) -> dict[str, Any]:
    """SUVmax/SUVmean in ``lesion`` and TBRmax/TBRmean against a background region.

    Parameters
    ----------
    suv
        SUVbw image (g/ml).
    lesion
        ``sitkUInt8`` mask on the SUV grid (resample it first with the fusion transform).
    background
        Background mask on the same grid; default: the lesion mirrored across the mid-sagittal plane of
        the head (Otsu head mask of the SUV image).
    tracer
        Chooses the cited thresholds (FET/MET); FDG/FDOPA/unknown tracers get values without a threshold.

    Returns
    -------
    dict
        ``suv_max``, ``suv_mean``, ``background_suv_mean``, ``tbr_max``, ``tbr_mean`` (ratios),
        ``lesion_voxels``, ``background`` (how it was obtained) and ``observations``.
    """
    from radnec.imaging.contralateral import contralateral_mask, head_mask_otsu

    require_same_grid(suv, lesion, what="PET SUV image and lesion mask")
    les = sitk.GetArrayViewFromImage(lesion) > 0
    if not les.any():
        raise GeometryError("the lesion mask is empty on the PET grid")
    how = "user mask"
    if background is None:
        background = contralateral_mask(lesion, head=head_mask_otsu(suv))
        how = "lesion mirrored across the mid-sagittal plane"
    else:
        require_same_grid(suv, background, what="PET SUV image and background mask")
    bg = sitk.GetArrayViewFromImage(background) > 0
    if not bg.any():
        raise GeometryError("the background mask is empty on the PET grid")
    arr = sitk.GetArrayViewFromImage(suv)
    suv_max = float(arr[les].max())
    suv_mean = float(arr[les].mean())
    bg_mean = float(arr[bg].mean())
    if not bg_mean > 0:
        raise UnitsError(f"background SUVmean is {bg_mean:.3g}; TBR undefined (is the background inside the head?)")
    bg_max = float(arr[bg].max())
    tr = tracer.upper() if tracer else None
    tbr_mean = suv_mean / bg_mean
    if tr in TBR_MAX_OVER_BACKGROUND_MAX:
        # The cited MET cut-off is a lesion-to-normal ratio of maxima (lesion SUVmax / normal SUVmax).
        tbr_max, tbr_max_def = suv_max / bg_max, "lesion SUVmax / background SUVmax (LNR)"
    else:
        tbr_max, tbr_max_def = suv_max / bg_mean, "lesion SUVmax / background SUVmean"
    src = "radnec.imaging.pet"
    obs = [
        observation("pet_tracer", tr or "unknown", None, source=src),
        observation("pet_suv_max", suv_max, "g/mL", source=src, note="body-weight SUV"),
        observation(
            "pet_tbr_max", tbr_max, "1", source=src, note=f"{tbr_max_def}; background: {how}",
            threshold_key=f"pet_tbr_max_{tr}" if tr in AMINO_ACID_TRACERS else None,
        ),
        observation(
            "pet_tbr_mean", tbr_mean, "1", source=src, note=f"background: {how}",
            threshold_key=f"pet_tbr_mean_{tr}" if tr in AMINO_ACID_TRACERS else None,
        ),
    ]
    return {
        "tracer": tr,
        "suv_max": suv_max,
        "suv_mean": suv_mean,
        "background_suv_mean": bg_mean,
        "background_suv_max": bg_max,
        "tbr_max_definition": tbr_max_def,
        "tbr_max": tbr_max,
        "tbr_mean": tbr_mean,
        "lesion_voxels": int(les.sum()),
        "background_voxels": int(bg.sum()),
        "background": how,
        "observations": obs,
    }


__all__ = ["PetSuv", "detect_tracer", "load_pet_suv", "pet_lesion_stats", "AMINO_ACID_TRACERS"]
