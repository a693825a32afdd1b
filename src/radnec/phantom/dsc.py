"""Synthetic 4-D DSC perfusion series on any grid (planning or follow-up) with known rCBV.

Two builders share one signal model, ``S(t) = S0·exp(−TE·ΔR2*(t)) + noise`` with
``ΔR2*(t) = r2s_per_mm · C(t)`` (s⁻¹, linear transverse relaxivity model):

* :func:`dsc_from_curves` paints given concentration curves into masks (e.g. the OSIPI reference
  curves, :func:`read_osipi_curves`), with an optional leakage term for the lesion.
* :func:`simulate_dsc` builds a brain (white-matter-like tissue), a lesion with a chosen rCBV
  (high for progression scenarios, low for necrosis) and optional leakage, from an analytic arterial
  input function (gamma variate plus a recirculation bump) convolved with an exponential residue
  function on a fine time grid (so that the integral of the tissue curve is CBV × integral of the AIF
  to < 0.1 %).

:func:`write_dsc_nifti` (4-D NIfTI + BIDS sidecar) and :func:`write_dsc_dicom` (one MR image per
slice and time frame, TemporalPositionIdentifier set) write the result.
"""

from __future__ import annotations

import csv
import json
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import SimpleITK as sitk

from radnec.errors import GeometryError, InputError
from radnec.geometry import require_same_grid
from radnec.ingest.dsc import DscSeries

#: Default acquisition (typical clinical DSC): TE 30 ms, TR 1.5 s, 60 frames.
DEFAULT_TE_MS = 30.0
DEFAULT_TR_S = 1.5
DEFAULT_FRAMES = 60
#: Baseline signal of brain (arbitrary units) and of the air background.
S0_BRAIN = 1000.0
#: Effective transverse relaxivity: ΔR2* (s⁻¹) per unit tissue concentration (mM); 100 puts the peak
#: white-matter ΔR2* near 5-10 s⁻¹ (a 15-25 % signal drop at TE 30 ms), as in clinical DSC.
R2S_PER_MM = 100.0
#: Scale of the AIF painted into an "artery" mask (partial volume), keeping its signal above the floor.
AIF_PAINT_SCALE = 0.05
#: White-matter-like normal tissue: CBV 2 ml/100 ml, MTT 6 s (CBF 20 ml/100 ml/min), as in the OSIPI set.
WM_CBV = 0.02
TISSUE_MTT_S = 6.0
#: Analytic AIF (gamma variate, Thompson/Madsen form): arrival, alpha, beta (s), peak (mM); recirculation
#: bump: delay (s), relative area.
AIF_T0_S = 12.0
AIF_ALPHA = 3.0
AIF_BETA_S = 1.5
AIF_PEAK_MM = 5.0
RECIRC_DELAY_S = 14.0
RECIRC_FRACTION = 0.15
FINE_DT_S = 0.05


@dataclass(frozen=True)
class OsipiCurve:
    """One OSIPI DSC reference curve (concentration, arbitrary mM) with its truth."""

    label: str
    tissue: np.ndarray
    aif: np.ndarray
    cbv_ml_per_100ml: float
    cbf_ml_per_100ml_min: float
    dt_s: float


def read_osipi_curves(path: str | Path) -> list[OsipiCurve]:
    """Read ``dsc_data.csv`` of the OSIPI DCE-DSC-MRI code collection (columns label, C_tis, C_aif,
    cbv, cbf, tr; curves are space-separated numbers)."""
    path = Path(path)
    out = []
    try:
        with path.open(newline="") as fh:
            for row in csv.DictReader(fh):
                out.append(
                    OsipiCurve(
                        label=row["label"],
                        tissue=np.array(row["C_tis"].split(), float),
                        aif=np.array(row["C_aif"].split(), float),
                        cbv_ml_per_100ml=float(row["cbv"]),
                        cbf_ml_per_100ml_min=float(row["cbf"]),
                        dt_s=float(row["tr"]),
                    )
                )
    except (KeyError, ValueError) as exc:
        raise InputError(f"not an OSIPI DSC curve file ({exc})", path=path) from None
    if not out:
        raise InputError("no curves in the OSIPI file", path=path)
    return out


def dsc_from_curves(
    grid: sitk.Image,
    regions: list[tuple[sitk.Image, np.ndarray]],
    *,
    dt_s: float,
    te_ms: float = DEFAULT_TE_MS,
    r2s_per_mm: float = R2S_PER_MM,
    s0: float = S0_BRAIN,
    noise_sd: float = 0.0,
    leakage: list[float] | None = None,
    seed: int = 0,
) -> DscSeries:
    """Paint concentration curves into regions and convert them to DSC signal.

    Parameters
    ----------
    grid
        3-D image giving the grid (LPS mm).
    regions
        ``(mask, concentration curve)`` pairs; later masks overwrite earlier ones.
    dt_s
        Frame interval (s).
    te_ms
        Echo time (ms).
    r2s_per_mm
        ΔR2* per concentration unit (s⁻¹/mM).
    s0
        Baseline signal inside the regions (outside: 0 plus noise).
    noise_sd
        Gaussian noise SD (signal units); 0 for noise-free.
    leakage
        Per region, a K2 (s⁻¹) of T1-dominant leakage: ``ΔR2*_measured = ΔR2* − K2·∫₀ᵗ ΔR2*_region``
        (the Boxerman–Weisskoff model with the region's own curve as reference).
    seed
        Random seed of the noise.
    """
    n = len(regions[0][1])
    if any(len(c) != n for _, c in regions):
        raise InputError("all concentration curves must have the same number of frames")
    size = grid.GetSize()[::-1]
    signal = np.zeros((n, *size), np.float64)
    te_s = te_ms / 1000.0
    times = np.arange(n) * dt_s
    for i, (mask, curve) in enumerate(regions):
        require_same_grid(grid, mask, what="DSC grid and region mask")
        m = sitk.GetArrayViewFromImage(mask) > 0
        dr = r2s_per_mm * np.asarray(curve, float)
        if leakage is not None and leakage[i]:
            cum = np.concatenate([[0.0], np.cumsum((dr[1:] + dr[:-1]) / 2.0 * dt_s)])
            dr = dr - leakage[i] * cum
        signal[:, m] = (s0 * np.exp(-te_s * dr))[:, None]
    if noise_sd > 0:
        signal += np.random.default_rng(seed).normal(0.0, noise_sd, signal.shape)
    ref = sitk.Cast(grid, sitk.sitkFloat32)
    return DscSeries(signal.astype(np.float32), ref, times, te_s, "synthetic")


def analytic_aif(times_s: np.ndarray) -> np.ndarray:
    """Gamma-variate arterial input (mM) with a recirculation bump (see module constants)."""

    def gamma(t: np.ndarray, t0: float) -> np.ndarray:
        x = np.clip(t - t0, 0.0, None)
        return x**AIF_ALPHA * np.exp(-x / AIF_BETA_S)

    first = gamma(times_s, AIF_T0_S)
    tpk = AIF_ALPHA * AIF_BETA_S
    norm = AIF_PEAK_MM / (tpk**AIF_ALPHA * np.exp(-AIF_ALPHA))
    recirc = np.convolve(gamma(times_s, AIF_T0_S + RECIRC_DELAY_S), np.exp(-times_s / 4.0))[: times_s.size]
    recirc *= first.sum() / max(recirc.sum(), 1e-12) * RECIRC_FRACTION
    return norm * (first + recirc)


def tissue_curve(times_s: np.ndarray, *, cbv: float, mtt_s: float = TISSUE_MTT_S) -> np.ndarray:
    """Tissue concentration ``C = CBF·(AIF ⊗ exp(−t/MTT))`` (CBF = CBV/MTT), computed on a fine grid."""
    fine = np.arange(0.0, times_s[-1] + FINE_DT_S, FINE_DT_S)
    aif = analytic_aif(fine)
    resid = np.exp(-fine / mtt_s)
    conv = np.convolve(aif, resid)[: fine.size] * FINE_DT_S * (cbv / mtt_s)
    return np.interp(times_s, fine, conv)


def simulate_dsc(
    grid: sitk.Image,
    *,
    brain: sitk.Image,
    lesion: sitk.Image,
    lesion_rcbv: float,
    aif: sitk.Image | None = None,
    n_frames: int = DEFAULT_FRAMES,
    tr_s: float = DEFAULT_TR_S,
    te_ms: float = DEFAULT_TE_MS,
    snr: float = 100.0,
    lesion_leakage_k2_per_s: float = 0.0,
    seed: int = 0,
) -> DscSeries:
    """A synthetic DSC series: WM-like brain (CBV 2 %), a lesion with CBV = ``lesion_rcbv`` × WM CBV.

    Parameters
    ----------
    grid, brain, lesion
        Grid image and masks on it (brain includes or excludes the lesion; the lesion overwrites it).
    lesion_rcbv
        True lesion CBV relative to the normal brain (e.g. 3.0 progression-like, 0.8 necrosis-like).
    aif
        Optional mask where the arterial input itself is painted (for deconvolution).
    snr
        Baseline signal / noise SD (0 or inf: noise-free).
    lesion_leakage_k2_per_s
        T1-dominant leakage K2 (s⁻¹) in the lesion (0: intact blood-brain barrier).
    """
    if not lesion_rcbv > 0:
        raise InputError(f"lesion_rcbv must be positive, got {lesion_rcbv}")
    if not np.any(sitk.GetArrayViewFromImage(lesion)):
        raise GeometryError("the lesion mask is empty")
    times = np.arange(n_frames) * tr_s
    wm = tissue_curve(times, cbv=WM_CBV)
    les = tissue_curve(times, cbv=WM_CBV * lesion_rcbv)
    regions = [(brain, wm), (lesion, les)]
    leakage = [0.0, lesion_leakage_k2_per_s]
    if aif is not None:
        regions.append((aif, analytic_aif(times) * AIF_PAINT_SCALE))
        leakage.append(0.0)
    noise = 0.0 if not snr or not np.isfinite(snr) else S0_BRAIN / snr
    return dsc_from_curves(grid, regions, dt_s=tr_s, te_ms=te_ms, noise_sd=noise, leakage=leakage, seed=seed)


def to_image_4d(series: DscSeries) -> sitk.Image:
    """The DSC series as a 4-D SimpleITK image (x, y, z, t); spacing[3] = frame interval (s)."""
    vols = []
    for frame in series.signal:
        img = sitk.GetImageFromArray(frame)
        img.CopyInformation(series.reference)
        vols.append(img)
    img4 = sitk.JoinSeries(vols, 0.0, series.dt_s)
    return img4


def write_dsc_nifti(series: DscSeries, path: str | Path) -> Path:
    """Write a 4-D NIfTI and a BIDS sidecar (EchoTime, RepetitionTime in s)."""
    path = Path(path)
    if not (path.name.endswith(".nii.gz") or path.name.endswith(".nii")):
        raise InputError("the DSC NIfTI name must end in .nii or .nii.gz", path=path)
    path.parent.mkdir(parents=True, exist_ok=True)
    sitk.WriteImage(to_image_4d(series), str(path))
    stem = path.name[: -len(".nii.gz")] if path.name.endswith(".nii.gz") else path.name[: -len(".nii")]
    side = path.with_name(stem + ".json")
    side.write_text(json.dumps({"EchoTime": series.te_s, "RepetitionTime": series.dt_s, "Modality": "MR",
                                "SeriesDescription": "synthetic DSC perfusion (radnec phantom)"}, indent=2))
    return path


def write_dsc_dicom(
    series: DscSeries,
    folder: str | Path,
    *,
    study_uid: str | None = None,
    frame_of_reference_uid: str | None = None,
    series_description: str = "DSC perfusion (radnec phantom)",
    patient_id: str = "PHANTOM",
    patient_name: str = "PHANTOM",
    date: str = "20260101",
    uid_seed: str = "radnec-dsc",
) -> Path:
    """Write the series as classic MR Image Storage files, one per slice and frame.

    Each file has ImagePositionPatient/ImageOrientationPatient from the grid, EchoTime/RepetitionTime,
    TemporalPositionIdentifier (1-based), AcquisitionTime (frame start) and a per-file rescale.
    """
    import pydicom
    from pydicom.dataset import FileMetaDataset
    from pydicom.uid import ExplicitVRLittleEndian, MRImageStorage, generate_uid

    folder = Path(folder)
    folder.mkdir(parents=True, exist_ok=True)
    ref = series.reference
    direction = np.array(ref.GetDirection()).reshape(3, 3)
    iop = [*direction[:, 0], *direction[:, 1]]
    def uid(*parts: object) -> str:  # deterministic: same input, same UIDs
        # one joined string: pydicom concatenates the sources, so ("5", "22") and ("52", "2") would collide
        return generate_uid(entropy_srcs=["|".join([uid_seed, *map(str, parts)])])

    study_uid = study_uid or uid("study")
    series_uid = uid("series", study_uid)
    for_uid = frame_of_reference_uid or uid("for")
    n_t, n_z = series.signal.shape[:2]
    t0 = 10 * 3600.0
    for t in range(n_t):
        frame = series.signal[t]
        hi = float(max(frame.max(), 1e-6))
        slope = hi / 65000.0
        for z in range(n_z):
            pos = ref.TransformIndexToPhysicalPoint((0, 0, z))
            meta = FileMetaDataset()
            meta.MediaStorageSOPClassUID = MRImageStorage
            meta.MediaStorageSOPInstanceUID = uid("sop", series_uid, t, z)
            meta.TransferSyntaxUID = ExplicitVRLittleEndian
            ds = pydicom.Dataset()
            ds.file_meta = meta
            ds.SOPClassUID = MRImageStorage
            ds.SOPInstanceUID = meta.MediaStorageSOPInstanceUID
            ds.Modality = "MR"
            ds.PatientID = patient_id
            ds.PatientName = patient_name
            ds.StudyInstanceUID = study_uid
            ds.SeriesInstanceUID = series_uid
            ds.FrameOfReferenceUID = for_uid
            ds.SeriesDescription = series_description
            ds.SeriesNumber = 900
            ds.ImageType = ["ORIGINAL", "PRIMARY", "PERFUSION"]
            ds.InstanceNumber = t * n_z + z + 1
            ds.StudyDate = ds.SeriesDate = ds.AcquisitionDate = date
            secs = t0 + float(series.times_s[t])
            hh, rem = divmod(secs, 3600)
            mm, ss = divmod(rem, 60)
            ds.AcquisitionTime = f"{int(hh):02d}{int(mm):02d}{ss:09.6f}"
            ds.EchoTime = f"{series.te_s * 1000:.3f}"
            if n_t > 1:
                ds.RepetitionTime = f"{series.dt_s * 1000:.1f}"
            ds.TemporalPositionIdentifier = t + 1
            ds.NumberOfTemporalPositions = n_t
            ds.ImagePositionPatient = [f"{v:.6f}" for v in pos]
            ds.ImageOrientationPatient = [f"{v:.8f}" for v in iop]
            ds.PixelSpacing = [f"{ref.GetSpacing()[1]:.6f}", f"{ref.GetSpacing()[0]:.6f}"]
            ds.SliceThickness = f"{ref.GetSpacing()[2]:.6f}"
            ds.SamplesPerPixel = 1
            ds.PhotometricInterpretation = "MONOCHROME2"
            ds.Rows, ds.Columns = frame.shape[1], frame.shape[2]
            ds.BitsAllocated = 16
            ds.BitsStored = 16
            ds.HighBit = 15
            ds.PixelRepresentation = 0
            ds.RescaleSlope = f"{slope:.10g}"
            ds.RescaleIntercept = "0"
            stored = np.clip(np.round(frame[z] / slope), 0, 65535).astype(np.uint16)
            ds.PixelData = stored.tobytes()
            ds.save_as(folder / f"dsc_t{t:03d}_z{z:03d}.dcm", enforce_file_format=True)
    return folder


def psr_for_leakage(k2_per_s: float, *, lesion_rcbv: float, n_frames: int, tr_s: float, te_ms: float) -> float:
    """PSR (%) of a noise-free lesion curve with leakage ``k2_per_s``, with the definition used by
    :func:`radnec.imaging.perfusion.analyze_dsc` (S1 = mean of the last frames, as many as baseline frames)."""
    from radnec.imaging.perfusion import detect_baseline

    times = np.arange(n_frames) * tr_s
    wm = R2S_PER_MM * tissue_curve(times, cbv=WM_CBV)
    dr = R2S_PER_MM * tissue_curve(times, cbv=WM_CBV * lesion_rcbv)
    cum = np.concatenate([[0.0], np.cumsum((dr[1:] + dr[:-1]) / 2.0 * tr_s)])
    sig = S0_BRAIN * np.exp(-te_ms / 1000.0 * (dr - k2_per_s * cum))
    start, end = detect_baseline(S0_BRAIN * np.exp(-te_ms / 1000.0 * wm))
    s0, smin, s1 = sig[start:end].mean(), sig.min(), sig[-(end - start):].mean()
    return float(100.0 * (s1 - smin) / (s0 - smin))


def leakage_for_psr(psr_pct: float, *, lesion_rcbv: float, n_frames: int, tr_s: float, te_ms: float) -> float:
    """The K2 (s⁻¹) that gives a lesion curve the wanted PSR (bisection; PSR increases with K2)."""
    from scipy.optimize import brentq

    def f(k2: float) -> float:
        return psr_for_leakage(k2, lesion_rcbv=lesion_rcbv, n_frames=n_frames, tr_s=tr_s, te_ms=te_ms) - psr_pct

    lo, hi = -0.2, 0.2
    if f(lo) > 0 or f(hi) < 0:
        raise InputError(f"PSR {psr_pct} % cannot be reached with |K2| <= 0.2 /s for rCBV {lesion_rcbv}")
    return float(brentq(f, lo, hi, xtol=1e-6))


def add_dsc_to_phantom(out: str | Path, *, seed: int = 0, study: str | None = None) -> dict:
    """Add a DSC perfusion series to a phantom case written by ``radnec phantom``.

    The series is written as DICOM into the chosen follow-up study (default: the last one), in its
    frame of reference and study, on a coarser DSC grid with the same origin and orientation. The
    lesion gets the rCBV and PSR of its diagnosis (``dsc_scenarios.yaml``); truth goes to
    ``truth/<study>/dsc_truth.json`` and ``dsc_lesion.nii.gz`` (lesion on the DSC grid), and a ``dsc``
    entry is added to the time point in ``truth.json``.

    Returns
    -------
    dict
        The DSC truth entry.
    """
    from radnec.datafiles import load_yaml
    from radnec.imaging.contralateral import head_mask_otsu
    from radnec.imaging.masks import mask_on_grid
    from radnec.ingest.series import read_series

    out = Path(out)
    truth_path = out / "truth.json"
    if not truth_path.is_file():
        raise InputError("no truth.json: not a radnec phantom case folder", path=out)
    truth = json.loads(truth_path.read_text())
    tps = [t for t in truth["timepoints"] if t["label"] != "planning"]
    if not tps:
        raise InputError("the phantom case has no follow-up study", path=out)
    tp = tps[-1] if study is None else next((t for t in tps if t["label"] == study), None)
    if tp is None:
        raise InputError(f"no follow-up study {study!r} in the case (have {[t['label'] for t in tps]})", path=out)
    cfg = load_yaml("radnec.phantom", "dsc_scenarios.yaml")
    acq = cfg["acquisition"]
    params = cfg["diagnosis"].get(truth["diagnosis"])
    if params is None:
        raise InputError(f"no DSC setting for diagnosis {truth['diagnosis']!r} in dsc_scenarios.yaml")

    ref = tp["series"].get("T1c") or tp["series"]["t1c_2d"]   # clinical-2d follow-ups: the axial 2-D T1c
    t1c = read_series(out / ref["folder"])
    lesion_fu = sitk.ReadImage(str(out / tp["masks"]["enhancing"]))
    spacing = [float(v) for v in acq["spacing_mm"]]
    size = [max(1, int(round(n * s / d))) for n, s, d in zip(t1c.GetSize(), t1c.GetSpacing(), spacing, strict=True)]
    grid = sitk.Image(size, sitk.sitkFloat32)
    grid.SetSpacing(spacing)
    grid.SetDirection(t1c.GetDirection())
    # keep the physical field of view: the first voxel centre moves by half the spacing change
    origin = np.asarray(t1c.GetOrigin()) + np.asarray(t1c.GetDirection()).reshape(3, 3) @ (
        (np.asarray(spacing) - np.asarray(t1c.GetSpacing())) / 2.0
    )
    grid.SetOrigin(tuple(origin))
    brain = sitk.Resample(head_mask_otsu(t1c), grid, sitk.Transform(), sitk.sitkNearestNeighbor, 0, sitk.sitkUInt8)
    lesion = mask_on_grid(lesion_fu, grid, what="enhancing lesion")
    k2 = leakage_for_psr(params["psr_pct"], lesion_rcbv=params["lesion_rcbv"], n_frames=acq["frames"],
                         tr_s=acq["tr_s"], te_ms=acq["te_ms"])
    series = simulate_dsc(grid, brain=brain, lesion=lesion, lesion_rcbv=params["lesion_rcbv"],
                          n_frames=acq["frames"], tr_s=acq["tr_s"], te_ms=acq["te_ms"], snr=acq["snr"],
                          lesion_leakage_k2_per_s=k2, seed=seed)
    folder = out / tp["folder"] / "DSC"
    write_dsc_dicom(
        series, folder, study_uid=tp["study_instance_uid"], frame_of_reference_uid=tp["frame_of_reference_uid"],
        patient_id=truth["patient"]["id"], patient_name=truth["patient"]["name"],
        date=tp["date"].replace("-", ""), uid_seed=f"radnec-phantom-dsc-{truth['scenario']}-{truth['seed']}-{seed}",
    )
    truth_dir = out / "truth" / tp["label"]
    truth_dir.mkdir(parents=True, exist_ok=True)
    sitk.WriteImage(lesion, str(truth_dir / "dsc_lesion.nii.gz"), useCompression=True)
    entry = {
        "folder": str(folder.relative_to(out)),
        "lesion_mask_on_dsc_grid": str((truth_dir / "dsc_lesion.nii.gz").relative_to(out)),
        "lesion_rcbv": params["lesion_rcbv"],
        "lesion_psr_pct": params["psr_pct"],
        "leakage_k2_per_s": k2,
        "te_ms": acq["te_ms"],
        "tr_s": acq["tr_s"],
        "frames": acq["frames"],
        "spacing_mm": spacing,
        "reference": "normal brain is white-matter-like (CBV 2 ml/100 ml, MTT 6 s) everywhere outside the lesion",
        "note": "illustrative settings (dsc_scenarios.yaml), not clinical data",
    }
    (truth_dir / "dsc_truth.json").write_text(json.dumps(entry, indent=2) + "\n")
    tp["dsc"] = entry
    truth_path.write_text(json.dumps(truth, indent=2) + "\n", encoding="utf-8")
    return entry


__all__ = [
    "OsipiCurve",
    "add_dsc_to_phantom",
    "leakage_for_psr",
    "psr_for_leakage",
    "read_osipi_curves",
    "dsc_from_curves",
    "analytic_aif",
    "tissue_curve",
    "simulate_dsc",
    "to_image_4d",
    "write_dsc_nifti",
    "write_dsc_dicom",
]
