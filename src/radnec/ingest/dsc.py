"""Read a 4-D DSC perfusion series: NIfTI 4-D (+ BIDS sidecar) or a DICOM multi-temporal series.

The result is a :class:`DscSeries`: the dynamic signal as a numpy array ``(T, Z, Y, X)``, a 3-D
reference image carrying the spatial grid (LPS mm), the acquisition times (s) and the echo time (s).

* NIfTI: SimpleITK reads the 4-D image (RAS → LPS handled by ITK); the time step comes from
  ``--tr-s``, a BIDS sidecar (``RepetitionTime``, s) beside the file, or pixdim[4] with its
  ``xyzt_units`` (nibabel); the echo time from ``--te-ms`` or the sidecar (``EchoTime``, s).
* DICOM: files of one series grouped into time frames by TemporalPositionIdentifier (else by
  AcquisitionTime, else by the repeat order of each slice position); each frame is stacked with
  :func:`radnec.ingest.series.load_series` (geometry checks, rescale); the frame times come from
  AcquisitionTime (else TR × index), the echo time from EchoTime.
"""

from __future__ import annotations

import json
import logging
import warnings
from collections import defaultdict
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np
import SimpleITK as sitk

from radnec.errors import GeometryError, InputError

log = logging.getLogger(__name__)

MS_PER_S = 1000.0
#: Minimum number of dynamic frames for a DSC analysis (baseline + bolus + recovery).
MIN_FRAMES = 20


@dataclass(frozen=True)
class DscSeries:
    """A DSC time series.

    Attributes
    ----------
    signal
        float32 array ``(T, Z, Y, X)`` (numpy order of SimpleITK arrays).
    reference
        3-D image (first frame) carrying origin/spacing/direction (LPS mm).
    times_s
        Acquisition time of each frame (s), starting at 0.
    te_s
        Echo time (s).
    source
        The file or folder read.
    """

    signal: np.ndarray
    reference: sitk.Image
    times_s: np.ndarray
    te_s: float
    source: str

    @property
    def dt_s(self) -> float:
        """Median frame interval (s); NaN for a single frame."""
        if self.times_s.size < 2:
            return float("nan")
        return float(np.median(np.diff(self.times_s)))


def _sidecar(path: Path) -> dict[str, Any]:
    name = path.name
    for suffix in (".nii.gz", ".nii"):
        if name.endswith(suffix):
            side = path.with_name(name[: -len(suffix)] + ".json")
            if side.is_file():
                try:
                    return json.loads(side.read_text())
                except json.JSONDecodeError as exc:
                    raise InputError(f"BIDS sidecar is not valid JSON: {exc}", path=side) from None
    return {}


def _nifti_time_step_s(path: Path) -> float | None:
    import nibabel as nib

    hdr = nib.load(str(path)).header
    zooms = hdr.get_zooms()
    if len(zooms) < 4 or not zooms[3] > 0:
        return None
    unit = hdr.get_xyzt_units()[1]
    scale = {"sec": 1.0, "msec": 1e-3, "usec": 1e-6}.get(unit)
    return None if scale is None else float(zooms[3]) * scale


def read_dsc_nifti(path: str | Path, *, te_ms: float | None = None, tr_s: float | None = None) -> DscSeries:
    """Read a 4-D NIfTI DSC series (see the module docstring for TE/TR sources)."""
    path = Path(path)
    try:
        img = sitk.ReadImage(str(path))
    except RuntimeError as exc:
        raise InputError(f"cannot read the DSC NIfTI: {str(exc).splitlines()[0]}", path=path) from None
    if img.GetDimension() != 4:
        raise InputError(f"a DSC series must be 4-D (x, y, z, time); this image is {img.GetDimension()}-D", path=path)
    side = _sidecar(path)
    if te_ms is None and "EchoTime" in side:
        te_ms = float(side["EchoTime"]) * MS_PER_S
    if tr_s is None and "RepetitionTime" in side:
        tr_s = float(side["RepetitionTime"])
    if tr_s is None:
        tr_s = _nifti_time_step_s(path)
    if te_ms is None:
        raise InputError("echo time unknown: give --te-ms or a BIDS sidecar (.json with EchoTime in s)", path=path)
    if tr_s is None or not tr_s > 0:
        raise InputError("frame interval unknown: give --tr-s or a BIDS sidecar with RepetitionTime (s)", path=path)
    arr = sitk.GetArrayFromImage(img).astype(np.float32)  # (T, Z, Y, X)
    size = img.GetSize()
    ref = sitk.Extract(img, (size[0], size[1], size[2], 0), (0, 0, 0, 0))
    ref = sitk.Cast(ref, sitk.sitkFloat32)
    times = np.arange(arr.shape[0], dtype=float) * tr_s
    return _checked(DscSeries(arr, ref, times, te_ms / MS_PER_S, str(path)))


def _tm_seconds(value: Any) -> float | None:
    if value in (None, ""):
        return None
    t = str(value).strip().replace(":", "")
    frac = 0.0
    if "." in t:
        t, f = t.split(".", 1)
        frac = float("0." + f) if f else 0.0
    t = t.ljust(6, "0")
    try:
        return int(t[:2]) * 3600 + int(t[2:4]) * 60 + int(t[4:6]) + frac
    except ValueError:
        return None


def read_dsc_dicom(path: str | Path, *, te_ms: float | None = None, tr_s: float | None = None) -> DscSeries:
    """Read a multi-temporal DICOM MR series (one folder, one series) as a DSC series."""
    import pydicom

    from radnec.ingest.series import load_series

    path = Path(path)
    files = sorted(p for p in path.rglob("*") if p.is_file()) if path.is_dir() else [path]
    headers: list[tuple[Path, Any]] = []
    enhanced = 0
    for f in files:
        try:
            with warnings.catch_warnings():
                warnings.simplefilter("ignore")
                ds = pydicom.dcmread(f, stop_before_pixels=True)
        except Exception:  # noqa: BLE001 - pydicom raises many types; non-DICOM files are skipped
            continue
        if str(ds.get("Modality", "")) != "MR":
            continue
        if any("MOSAIC" in str(v).upper() for v in (ds.get("ImageType") or [])):
            raise InputError(
                "Siemens MOSAIC DSC images (all slices tiled in one image) are not supported; convert the "
                "series to 4-D NIfTI with dcm2niix (it writes the BIDS sidecar with EchoTime) and pass that",
                path=f,
            )
        if "PerFrameFunctionalGroupsSequence" in ds:
            enhanced += 1
        elif "ImagePositionPatient" in ds:
            headers.append((f, ds))
    if not headers and enhanced:
        raise InputError(
            "enhanced multi-frame MR DSC is not supported yet; export the series as classic single-frame "
            "images, or convert it to 4-D NIfTI (dcm2niix) with its BIDS sidecar",
            path=path,
        )
    if not headers:
        raise InputError("no MR image slices found for the DSC series", path=path)
    series = {str(ds.get("SeriesInstanceUID", "")) for _, ds in headers}
    if len(series) > 1:
        raise InputError(f"{len(series)} MR series found; give the folder of the DSC series only", path=path)

    def key_pos(ds: Any) -> tuple[float, ...]:
        return tuple(round(float(v), 3) for v in ds.ImagePositionPatient)

    frames: dict[Any, list[tuple[Path, Any]]] = defaultdict(list)
    if all("TemporalPositionIdentifier" in ds for _, ds in headers):
        for f, ds in headers:
            frames[int(ds.TemporalPositionIdentifier)].append((f, ds))
    else:
        by_pos: dict[tuple[float, ...], list[tuple[Path, Any]]] = defaultdict(list)
        for f, ds in headers:
            by_pos[key_pos(ds)].append((f, ds))
        for items in by_pos.values():
            items.sort(key=lambda fd: (_tm_seconds(fd[1].get("AcquisitionTime")) or 0.0, int(fd[1].get("InstanceNumber", 0))))
            for i, item in enumerate(items):
                frames[i].append(item)
    order = sorted(frames)
    counts = {len(frames[k]) for k in order}
    if len(counts) != 1:
        raise GeometryError(
            f"DSC time frames have different numbers of slices ({sorted(counts)}); the series is incomplete", path=path
        )
    if len(order) < 2:
        raise InputError("only one time frame found: this is not a dynamic (DSC) series", path=path)
    volumes = []
    reference = None
    times = []
    for k in order:
        series_k = load_series([str(f) for f, _ in frames[k]])
        img = series_k.image
        if reference is None:
            reference = img
        elif img.GetSize() != reference.GetSize() or not np.allclose(img.GetOrigin(), reference.GetOrigin(), atol=1e-3):
            raise GeometryError(f"DSC time frame {k} is on a different grid from frame {order[0]}", path=path)
        volumes.append(sitk.GetArrayFromImage(img))
        t = [_tm_seconds(ds.get("AcquisitionTime")) for _, ds in frames[k]]
        times.append(min(x for x in t if x is not None) if any(x is not None for x in t) else None)
    first = headers[0][1]
    if te_ms is None:
        te = first.get("EchoTime")
        if te in (None, ""):
            raise InputError("EchoTime missing in the DSC series; give --te-ms", path=path)
        te_ms = float(te)
    if tr_s is not None:
        t_arr = np.arange(len(order), dtype=float) * tr_s
    elif all(t is not None for t in times) and len(set(times)) == len(times):
        t_arr = np.array(times, dtype=float)
        t_arr = np.where(t_arr < t_arr[0], t_arr + 86400.0, t_arr) - t_arr[0]  # midnight
        if np.any(np.diff(t_arr) <= 0):
            raise GeometryError("DSC frame acquisition times are not increasing; give --tr-s", path=path)
    else:
        tr = first.get("RepetitionTime")
        if tr in (None, ""):
            raise InputError("no frame times (AcquisitionTime/RepetitionTime); give --tr-s", path=path)
        t_arr = np.arange(len(order), dtype=float) * float(tr) / MS_PER_S
    signal = np.stack(volumes).astype(np.float32)
    assert reference is not None
    return _checked(DscSeries(signal, reference, t_arr, te_ms / MS_PER_S, str(path)))


def _checked(series: DscSeries) -> DscSeries:
    n = series.signal.shape[0]
    if n < MIN_FRAMES:
        raise InputError(
            f"only {n} time frames; a DSC analysis needs at least {MIN_FRAMES} (baseline, bolus, recovery)",
            path=series.source,
        )
    if not 0 < series.te_s < 0.2:
        raise InputError(f"echo time {series.te_s * MS_PER_S:.1f} ms is implausible for DSC (expected ~20-60 ms)",
                         path=series.source)
    if not np.all(np.isfinite(series.signal)):
        raise InputError("the DSC signal contains NaN or infinite values", path=series.source)
    return series


def read_dsc(path: str | Path, *, te_ms: float | None = None, tr_s: float | None = None) -> DscSeries:
    """Read a DSC series from a 4-D NIfTI file or a DICOM folder/file (dispatch on the name)."""
    path = Path(path)
    if not path.exists():
        raise InputError("no such file or folder", path=path)
    if path.is_file() and (path.name.endswith(".nii") or path.name.endswith(".nii.gz")):
        return read_dsc_nifti(path, te_ms=te_ms, tr_s=tr_s)
    return read_dsc_dicom(path, te_ms=te_ms, tr_s=tr_s)


__all__ = ["DscSeries", "read_dsc", "read_dsc_nifti", "read_dsc_dicom", "MIN_FRAMES"]
