"""Single-voxel ¹H MR spectroscopy: read vendor files, simple spectrum, Cho/Cr, Cho/NAA, lipid-lactate.

Readers (all return a complex FID, the spectral width in Hz, the spectrometer frequency in MHz and the
ppm of the carrier):

* Siemens ``.rda``: text header (``>>> Begin of header <<<`` … ``>>> End of header <<<``) followed by
  complex float64 little-endian samples (``VectorSize`` points, ``DwellTime`` in µs, ``MRFrequency``).
* Siemens CSA ``.IMA`` (private SOP class 1.3.12.2.1107.5.9.1): complex float32 in (7FE1,1010); the CSA
  image header (0029,1110), read with :mod:`nibabel.nicom.csareader`, gives ``DataPointColumns``,
  ``RealDwellTime`` (ns) and ``ImagingFrequency`` (MHz).
* DICOM MR Spectroscopy Storage (1.2.840.10008.5.1.4.1.1.4.2): SpectroscopyData (5600,0020), complex
  float32; SpectralWidth, TransmitterFrequency, ChemicalShiftReference. Several frames: the first frame
  whose MR Spectroscopy Frame Type is not a water reference is used.
* Rejected with the reason: Philips SPAR/SDAT, GE P-files, multi-voxel CSI (more than one voxel),
  non-¹H nuclei, frequency-domain data.

Processing (deliberately simple and documented, not LCModel): exponential apodisation
(``LINE_BROADENING_HZ``), FFT, orientation of the frequency axis chosen by matching the three main
metabolite peaks, a frequency shift aligning the largest peak near NAA/Cr/Cho to its nominal position,
zero-order phase maximising the real area in the metabolite region, then per-peak area of the real
spectrum above a straight baseline through the window edges. Ratios are of areas. Water at 4.7 ppm is
the carrier reference unless the file says otherwise.

Metastases have little or no NAA, so Cho/NAA is inflated in any metastasis; the accuracy figures in
``thresholds.yaml`` come from GLIOMA studies and are marked as such.
"""

from __future__ import annotations

import logging
import re
from dataclasses import dataclass, replace
from pathlib import Path
from typing import Any

import numpy as np

from radnec.errors import InputError

log = logging.getLogger(__name__)

#: Peak windows (ppm): choline 3.22, creatine 3.03, NAA 2.01, lipid-lactate 1.3.
PEAKS_PPM = {"cho": (3.14, 3.30), "cr": (2.95, 3.10), "naa": (1.93, 2.09), "lipid_lactate": (1.18, 1.45)}
NOMINAL_PPM = {"cho": 3.22, "cr": 3.03, "naa": 2.01}
#: Metabolite region used for phasing and alignment (ppm).
METABOLITE_REGION_PPM = (1.8, 3.4)
#: Largest frequency error the alignment corrects (ppm); room-temperature phantoms are off by ~0.2 ppm
#: because the water resonance used as reference moves about -0.01 ppm/°C.
MAX_SHIFT_PPM = 0.25
#: Asymmetric-least-squares baseline (Eilers PHC, Boelens HFM, 2005): smoothness (for the sampling
#: without zero-filling; scaled by ZERO_FILL**4 for the second-difference penalty) and
#: asymmetry; removes the residual-water tail and broad macromolecule signal under the peaks.
ALS_LAMBDA = 1e3
ALS_ASYMMETRY = 0.01
ALS_ITERATIONS = 10
#: Region (ppm) where the baseline is estimated and peaks are integrated (excludes the water peak).
BASELINE_REGION_PPM = (0.6, 3.9)
#: Zero-filling factor before the FFT (finer sampling of peak positions and phases).
ZERO_FILL = 4
#: Exponential line broadening (Hz).
LINE_BROADENING_HZ = 3.0
#: A peak (creatine, NAA, lipid-lactate) counts as present when its height exceeds this many noise SD (detection, not
#: a clinical threshold); the noise is measured in the last quarter of the FID.
PEAK_DETECTION_SNR = 3.0
WATER_PPM = 4.7
MRS_SOP_CLASS = "1.2.840.10008.5.1.4.1.1.4.2"
SIEMENS_CSA_NON_IMAGE = "1.3.12.2.1107.5.9.1"


#: Fewest FID points radnec accepts: an engineering sanity limit (clinical single-voxel spectra
#: have 512–4096 points).
MIN_POINTS = 64


@dataclass(frozen=True)
class Fid:
    """A complex free-induction decay and what is needed to put it on a ppm axis."""

    data: np.ndarray
    spectral_width_hz: float
    frequency_mhz: float
    reference_ppm: float
    te_ms: float | None
    format: str


def _rda(path: Path) -> Fid:
    raw = path.read_bytes()
    start = raw.find(b">>> Begin of header <<<")
    end_tag = b">>> End of header <<<"
    end = raw.find(end_tag)
    if start < 0 or end < 0:
        raise InputError("not a Siemens RDA file (no '>>> Begin/End of header <<<')", path=path)
    header: dict[str, str] = {}
    for line in raw[start:end].decode("latin-1").splitlines():
        if ": " in line:
            k, v = line.split(": ", 1)
            header[k.strip()] = v.strip()
    body = raw[end + len(end_tag):].lstrip(b"\r\n")
    try:
        n = int(header["VectorSize"])
        dwell_us = float(header["DwellTime"])
        freq = float(header["MRFrequency"])
    except (KeyError, ValueError) as exc:
        raise InputError(f"RDA header lacks or mangles {exc}", path=path) from None
    if n < MIN_POINTS or not (np.isfinite(dwell_us) and dwell_us > 0):
        raise InputError(f"RDA header gives {n} points at a dwell time of {dwell_us} µs: not a usable FID", path=path)
    nucleus = header.get("Nucleus", "1H")
    if nucleus != "1H":
        raise InputError(f"nucleus {nucleus}: only 1H spectroscopy is supported", path=path)
    voxels = 1
    for i in range(3):
        voxels *= int(float(header.get(f"CSIMatrixSize[{i}]", "1")))
    if voxels != 1:
        raise InputError(f"multi-voxel CSI ({voxels} voxels): only single-voxel spectroscopy is supported", path=path)
    if len(body) < n * 16:
        raise InputError(f"RDA data truncated: {len(body)} bytes for {n} complex float64 points", path=path)
    arr = np.frombuffer(body[: n * 16], dtype="<f8")
    try:
        te = float(header["TE"]) if "TE" in header else None
    except ValueError:
        te = None  # informational only
    return Fid(arr[0::2] + 1j * arr[1::2], 1e6 / dwell_us, freq, WATER_PPM, te, "Siemens RDA")


def _csa_ima(ds: Any, path: Path) -> Fid:
    from nibabel.nicom import csareader

    try:
        csa = csareader.get_csa_header(ds, "image")
    except Exception as exc:  # noqa: BLE001 - the CSA parser raises several types on corrupt headers
        raise InputError(f"Siemens CSA header unreadable ({type(exc).__name__})", path=path) from None
    if csa is None:
        raise InputError("Siemens spectroscopy file without a CSA image header (0029,1110)", path=path)

    def val(name: str) -> float | None:
        try:
            return float(csareader.get_scalar(csa, name))
        except (KeyError, IndexError, TypeError, ValueError):
            return None

    n = val("DataPointColumns")
    dwell_ns = val("RealDwellTime")
    freq = val("ImagingFrequency") or (float(ds.ImagingFrequency) if "ImagingFrequency" in ds else None)
    if not n or not dwell_ns or not freq:
        raise InputError("CSA header lacks DataPointColumns, RealDwellTime or ImagingFrequency", path=path)
    rows = (val("Rows") or 1) * (val("Columns") or 1) * (val("NumberOfFrames") or 1)
    if rows != 1:
        raise InputError(f"multi-voxel CSI ({int(rows)} voxels): only single-voxel spectroscopy is supported", path=path)
    raw = ds[0x7FE1, 0x1010].value
    arr = np.frombuffer(raw, dtype="<f4")
    if arr.size < 2 * int(n):
        raise InputError(f"CSA spectroscopy data truncated ({arr.size // 2} of {int(n)} points)", path=path)
    arr = arr[: 2 * int(n)].astype(np.float64)
    te = val("EchoTime")
    return Fid(arr[0::2] + 1j * arr[1::2], 1e9 / dwell_ns, freq, WATER_PPM, te, "Siemens CSA (.IMA)")


def _frame_is_water_reference(ds: Any, i: int) -> bool:
    try:
        item = ds.PerFrameFunctionalGroupsSequence[i]
        ft = item.MRSpectroscopyFrameTypeSequence[0]
        texts = " ".join(str(v) for v in ft.get("FrameType", []))
    except (AttributeError, IndexError, KeyError):
        return False
    return "WATER" in texts.upper() and "SUPPRESS" not in texts.upper()


def _dicom_mrs(ds: Any, path: Path) -> Fid:
    if str(ds.get("ResonantNucleus", "1H")).strip() not in ("1H", ""):
        raise InputError(f"nucleus {ds.ResonantNucleus}: only 1H spectroscopy is supported", path=path)
    if str(ds.get("SignalDomainColumns", "TIME")).upper() != "TIME":
        raise InputError("frequency-domain spectroscopy data: radnec reads time-domain FIDs only", path=path)
    if str(ds.get("DataRepresentation", "COMPLEX")).upper() != "COMPLEX":
        raise InputError(f"DataRepresentation {ds.DataRepresentation}: a COMPLEX FID is needed", path=path)
    voxels = int(ds.get("Rows", 1) or 1) * int(ds.get("Columns", 1) or 1) * int(ds.get("DataPointRows", 1) or 1)
    if voxels != 1:
        raise InputError(f"multi-voxel CSI ({voxels} voxels): only single-voxel spectroscopy is supported", path=path)
    n = int(ds.DataPointColumns)
    frames = int(ds.get("NumberOfFrames", 1) or 1)
    arr = np.frombuffer(ds.SpectroscopyData, dtype="<f4").astype(np.float64)
    if arr.size < 2 * n * frames:
        raise InputError(f"SpectroscopyData holds {arr.size // 2} points, expected {n} x {frames} frames", path=path)
    fids = (arr[0::2] + 1j * arr[1::2]).reshape(frames, n)
    flagged = [i for i in range(frames) if not _frame_is_water_reference(ds, i)]
    if frames > 1 and len(flagged) == frames:
        # No frame type says which frame is the water reference: the water-suppressed frame is the one
        # with the smaller FID amplitude (Philips stores the unsuppressed reference as a second frame).
        flagged = [int(np.argmin(np.abs(fids).max(axis=1)))]
    pick = flagged[0] if flagged else 0
    te = None
    try:
        te = float(ds.SharedFunctionalGroupsSequence[0].MREchoSequence[0].EffectiveEchoTime)
    except (AttributeError, IndexError, KeyError):
        pass
    return Fid(
        fids[pick],
        float(ds.SpectralWidth),
        float(ds.TransmitterFrequency),
        float(ds.get("ChemicalShiftReference", WATER_PPM) or WATER_PPM),
        te,
        f"DICOM MR Spectroscopy ({ds.get('Manufacturer', 'unknown vendor')}, frame {pick + 1}/{frames})",
    )


def read_fid(path: str | Path) -> Fid:
    """Read a single-voxel ¹H FID from a Siemens RDA, Siemens CSA DICOM or DICOM MR Spectroscopy file.

    Raises
    ------
    InputError
        For unsupported formats, with the specific reason (e.g. Philips SPAR/SDAT, GE P-file, CSI).
    """
    import pydicom
    from pydicom.errors import InvalidDicomError

    path = Path(path)
    if not path.is_file():
        raise InputError("no such spectroscopy file", path=path)
    suffix = path.suffix.lower()
    if suffix in (".spar", ".sdat"):
        raise InputError(
            "Philips SPAR/SDAT is not supported (VAX floating-point data); export the spectrum as DICOM MR "
            "Spectroscopy or type the ratios in", path=path
        )
    if re.fullmatch(r"p\d+\.7", path.name.lower()) or suffix == ".7":
        raise InputError("GE P-file (raw k-space) is not supported; type the ratios in", path=path)
    if suffix == ".rda":
        return _checked(_rda(path), path)
    try:
        ds = pydicom.dcmread(path)
    except (InvalidDicomError, OSError):
        raise InputError(
            "not a recognised spectroscopy file (supported: Siemens .rda, Siemens CSA .IMA, DICOM MR Spectroscopy)",
            path=path,
        ) from None
    sop = str(ds.get("SOPClassUID", ""))
    reader = _dicom_mrs if (sop == MRS_SOP_CLASS or "SpectroscopyData" in ds) else _csa_ima if (0x7FE1, 0x1010) in ds else None
    if reader is None:
        raise InputError(f"DICOM file is not MR spectroscopy (SOP class {sop})", path=path)
    try:
        return _checked(reader(ds, path), path)
    except (AttributeError, KeyError, TypeError, ValueError) as exc:  # a missing or non-numeric attribute
        raise InputError(f"malformed spectroscopy header ({type(exc).__name__}: {exc})", path=path) from None


def _checked(fid: Fid, path: Path) -> Fid:
    """Refuse a FID whose numbers cannot put it on a ppm axis (each reader parses its own header)."""
    problems = []
    if fid.data.size < MIN_POINTS:
        problems.append(f"{fid.data.size} points (need >= {MIN_POINTS})")
    if not (np.isfinite(fid.spectral_width_hz) and fid.spectral_width_hz > 0):
        problems.append(f"spectral width {fid.spectral_width_hz} Hz")
    if not (np.isfinite(fid.frequency_mhz) and fid.frequency_mhz > 0):
        problems.append(f"spectrometer frequency {fid.frequency_mhz} MHz")
    if not np.isfinite(fid.reference_ppm):
        problems.append(f"reference {fid.reference_ppm} ppm")
    if not np.all(np.isfinite(fid.data)):
        problems.append("non-finite samples")
    if problems:
        raise InputError(f"{fid.format}: not a usable FID ({'; '.join(problems)})", path=path)
    if fid.te_ms is not None and not (np.isfinite(fid.te_ms) and fid.te_ms >= 0):
        return replace(fid, te_ms=None)  # TE is informational: an impossible value is dropped
    return fid


def spectrum(fid: Fid) -> tuple[np.ndarray, np.ndarray]:
    """Apodised, FFT'd spectrum and its ppm axis (descending with index), before orientation checks."""
    n = fid.data.size
    t = np.arange(n) / fid.spectral_width_hz
    apod = fid.data * np.exp(-np.pi * LINE_BROADENING_HZ * t)
    m = n * ZERO_FILL
    spec = np.fft.fftshift(np.fft.fft(apod, m))
    freq_hz = (np.arange(m) - m // 2) * fid.spectral_width_hz / m
    ppm = fid.reference_ppm + freq_hz / fid.frequency_mhz
    return spec, ppm


def als_baseline(y: np.ndarray) -> np.ndarray:
    """Asymmetric least-squares baseline of a real spectrum (Eilers & Boelens 2005)."""
    from scipy import sparse
    from scipy.sparse.linalg import spsolve

    n = y.size
    d = sparse.diags([1.0, -2.0, 1.0], [0, -1, -2], shape=(n, n - 2))
    penalty = ALS_LAMBDA * ZERO_FILL**4 * (d @ d.T)  # λ is defined for unpadded sampling
    w = np.ones(n)
    z = y
    for _ in range(ALS_ITERATIONS):
        weights = sparse.spdiags(w, 0, n, n)
        z = spsolve((weights + penalty).tocsc(), w * y)
        w = ALS_ASYMMETRY * (y > z) + (1 - ALS_ASYMMETRY) * (y < z)
    return np.asarray(z)


def _area(real: np.ndarray, ppm: np.ndarray, window: tuple[float, float]) -> tuple[float, float]:
    """Area (signal·ppm) and height of the baseline-corrected real spectrum in a ppm window."""
    lo, hi = window
    sel = np.flatnonzero((ppm >= lo) & (ppm <= hi))
    if sel.size < 3:
        return 0.0, 0.0
    y = real[sel]
    dppm = abs(float(ppm[1] - ppm[0]))
    return float(np.sum(y) * dppm), float(y.max())


def _present(real: np.ndarray, ppm: np.ndarray, window: tuple[float, float], noise: float) -> bool:
    """A peak is present when the window holds a local maximum whose height (above the baseline) and prominence exceed
    ``PEAK_DETECTION_SNR`` noise SD."""
    from scipy.signal import find_peaks

    sel = np.flatnonzero((ppm >= window[0]) & (ppm <= window[1]))
    if sel.size < 3 or not np.isfinite(noise) or noise <= 0:
        return False
    # The ALS baseline hugs the lower envelope of the noise: measure heights from the noise floor
    # (median of the baseline-corrected metabolite region) instead.
    floor = float(np.median(real[(ppm >= BASELINE_REGION_PPM[0]) & (ppm <= BASELINE_REGION_PPM[1])]))
    peaks, _ = find_peaks(real, height=floor + PEAK_DETECTION_SNR * noise, prominence=PEAK_DETECTION_SNR * noise)
    return bool(np.any((peaks >= sel.min()) & (peaks <= sel.max())))


def _score(mag: np.ndarray, ppm: np.ndarray) -> float:
    """How well the magnitude spectrum has peaks at the nominal metabolite positions."""
    s = 0.0
    for p in NOMINAL_PPM.values():
        s += float(mag[np.argmin(np.abs(ppm - p))])
    return s


def analyze_fid(fid: Fid) -> dict[str, Any]:
    """Cho/Cr, Cho/NAA and lipid-lactate/Cr (areas) of a single-voxel FID; see the module docstring."""
    spec, ppm = spectrum(fid)
    # Orientation: FFT sign conventions differ between vendors; keep the one whose metabolite peaks
    # line up (mirror the spectrum about the reference otherwise).
    best = None
    for flip in (False, True):
        s = spec[::-1] if flip else spec
        mag = np.abs(s)
        region = (ppm >= METABOLITE_REGION_PPM[0] - MAX_SHIFT_PPM) & (ppm <= METABOLITE_REGION_PPM[1] + MAX_SHIFT_PPM)
        # best shift within ±MAX_SHIFT_PPM
        dppm = abs(ppm[1] - ppm[0])
        max_k = int(MAX_SHIFT_PPM / dppm)
        for k in range(-max_k, max_k + 1):
            score = _score(np.roll(mag, k), ppm)
            if best is None or score > best[0]:
                best = (score, flip, k)
        del region
    assert best is not None
    _, flip, shift = best
    s = np.roll(spec[::-1] if flip else spec, shift)
    region = np.flatnonzero((ppm >= METABOLITE_REGION_PPM[0]) & (ppm <= METABOLITE_REGION_PPM[1]))
    # Zero-order phase: make the tallest metabolite peak purely absorptive (real, positive).
    top = int(region[np.argmax(np.abs(s[region]))])
    phi = float(-np.angle(s[top]))
    real = (s * np.exp(1j * phi)).real
    in_region = (ppm >= BASELINE_REGION_PPM[0]) & (ppm <= BASELINE_REGION_PPM[1])
    corrected = np.zeros_like(real)
    corrected[in_region] = real[in_region] - als_baseline(real[in_region])
    real = corrected
    # Noise SD of the real spectrum from the last quarter of the FID (signal decayed), propagated
    # through the apodisation window and the FFT.
    n = fid.data.size
    t = np.arange(n) / fid.spectral_width_hz
    window = np.exp(-np.pi * LINE_BROADENING_HZ * t)
    sigma_t = float(np.std(fid.data[-n // 4:].real))
    noise = sigma_t * float(np.sqrt(np.sum(window**2)))
    areas = {k: _area(real, ppm, w) for k, w in PEAKS_PPM.items()}
    present = {k: _present(real, ppm, w, noise) for k, w in PEAKS_PPM.items()}
    cr, cho, naa = areas["cr"][0], areas["cho"][0], areas["naa"][0]
    if not (cr > 0 and present["cr"]):
        raise InputError(
            "no creatine peak at 3.0 ppm (a phantom or non-brain spectrum?): Cho/Cr cannot be computed; "
            "type the ratios in if the scanner report has them"
        )
    ll_area = areas["lipid_lactate"][0]
    return {
        "format": fid.format,
        "points": int(fid.data.size),
        "te_ms": fid.te_ms,
        "spectral_width_hz": fid.spectral_width_hz,
        "frequency_mhz": fid.frequency_mhz,
        "frequency_axis_reversed": bool(flip),
        "shift_ppm": float(shift * abs(ppm[1] - ppm[0])),
        "zero_order_phase_deg": float(np.degrees(phi)),
        "areas": {k: v[0] for k, v in areas.items()},
        "cho_cr": cho / cr,
        "cho_naa": cho / naa if (naa > 0 and present["naa"]) else None,
        "lipid_lactate_cr": ll_area / cr,
        "lipid_lactate_present": bool(present["lipid_lactate"]),
        "peaks_present": present,
        "noise_sd": noise,
    }


def mrs_observations(result: dict[str, Any], *, source: str = "radnec.imaging.mrs") -> list[dict[str, Any]]:
    """Observations (Cho/Cr, Cho/NAA, lipid-lactate/Cr) with the GLIOMA-derived caveats."""
    from radnec.imaging.knowledge import observation

    obs = [observation("mrs_cho_cr", float(result["cho_cr"]), "1", source=source)]
    if result.get("cho_naa") is not None:
        obs.append(observation("mrs_cho_naa", float(result["cho_naa"]), "1", source=source))
    obs.append(
        observation(
            "mrs_lipid_lactate", float(result["lipid_lactate_cr"]), "1", source=source,
            note=f"lipid-lactate (1.3 ppm) area / creatine area; peak {'detected' if result['lipid_lactate_present'] else 'not detected'} above noise",
        )
    )
    return obs


def analyze_mrs_file(path: str | Path) -> dict[str, Any]:
    """Read and quantify a spectroscopy file; adds ``observations``."""
    fid = read_fid(path)
    try:
        res = analyze_fid(fid)
    except InputError as exc:
        raise InputError(exc.message, path=path) from None
    res["observations"] = mrs_observations(res)
    return res


def typed_mrs(
    *, cho_cr: float | None = None, cho_naa: float | None = None, lipid_lactate_cr: float | None = None
) -> list[dict[str, Any]]:
    """Observations from ratios typed in by the user (read off the scanner's spectroscopy report)."""
    from radnec.imaging.knowledge import observation

    obs = []
    for name, v in (("mrs_cho_cr", cho_cr), ("mrs_cho_naa", cho_naa), ("mrs_lipid_lactate", lipid_lactate_cr)):
        if v is not None:
            if not (np.isfinite(v) and v >= 0):
                raise InputError(f"typed-in {name} must be a finite non-negative ratio, got {v}")
            obs.append(observation(name, float(v), "1", source="typed in"))
    return obs


__all__ = ["Fid", "read_fid", "spectrum", "analyze_fid", "analyze_mrs_file", "mrs_observations", "typed_mrs"]
