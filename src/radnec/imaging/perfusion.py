"""DSC perfusion: ΔR2*, baseline, Boxerman–Weisskoff leakage correction, CBV, rCBV, PSR.

Pipeline (:func:`analyze_dsc`):

1. Pre-bolus baseline found on the whole-brain mean signal (:func:`detect_baseline`): leading
   non-steady-state frames are skipped, the bolus arrival is the first frame from which the signal
   stays ``BOLUS_Z`` robust standard deviations below the baseline level up to the bolus minimum.
2. ``ΔR2*(t) = −ln(S(t)/S0)/TE`` per voxel, S0 = mean baseline signal (s⁻¹).
3. Leakage correction (Boxerman JL, Schmainda KM, Weisskoff RM. Relative cerebral blood volume maps
   corrected for contrast agent extravasation significantly correlate with glioma tumor grade, whereas
   uncorrected maps do not. AJNR 2006;27:859–867): per voxel, ``ΔR2*(t) ≈ K1·R(t) − K2·∫₀ᵗR``, with
   R the mean ΔR2* of brain voxels outside the lesion, fitted by linear least squares; the corrected
   curve is ``ΔR2* + K2·∫₀ᵗR``.
4. CBV (arbitrary units, s⁻¹·s) = trapezoidal integral of the corrected ΔR2* over the first pass:
   from the bolus arrival to the recirculation trough of the reference curve (the end of the series
   when no recirculation is detected).
5. rCBV = CBV / median CBV of the reference region: contralateral normal-appearing white matter
   given as a mask, or by default the lesion mirrored across the mid-sagittal plane (see
   :mod:`radnec.imaging.contralateral`). rCBVmean = lesion mean; rCBVmax = maximum over the lesion of
   the mean of the lesion voxels in each in-plane 3×3 window (a hot-spot ROI, less noise-driven than
   one voxel).
6. PSR (%) of the lesion mean signal curve: ``100·(S1 − Smin)/(S0 − Smin)`` with S0 the baseline
   mean, Smin the minimum and S1 the mean of the last frames (as many as baseline frames); peak height
   ``100·(S0 − Smin)/S0`` (%), the peak ΔR2* (s⁻¹) and the relative peak height rPH = lesion peak
   ΔR2* / reference-region peak ΔR2*. These are the three DSC parameters of Barajas RF, Chang JS,
   Sneed PK, et al. AJNR 2009;30:367–372 (doi 10.3174/ajnr.A1362: rCBV, rPH and PSR from the T2*
   signal-intensity time curves of a whole contrast-enhancing-region ROI, normalised to contralateral
   normal-appearing white matter); see docs/imaging.md for what could and could not be checked.

Optionally, with an arterial input function, :func:`svd_residue` (block-circulant truncated SVD,
Wu O et al., Magn Reson Med 2003;50:164–174) gives the flow-scaled residue function; CBV is then its
trapezoidal integral and CBF its maximum. For region-of-interest curves (a lesion or reference mean
curve, the OSIPI reference curves), :func:`cbv_cbf_parametric` fits a gamma-distributed transit-time
model (Mouridsen K et al., NeuroImage 2006;33:570–579) and returns CBV = CBF·MTT, the least noisy of
the estimators on the OSIPI DSC reference curves (docs/imaging.md).

Numbers that are algorithmic settings (not clinical thresholds) are module constants below; the
clinical cut-offs come from ``thresholds.yaml``.
"""

from __future__ import annotations

import logging
from dataclasses import dataclass, field
from typing import Any

import numpy as np
import SimpleITK as sitk
from scipy import ndimage, optimize, signal, stats
from scipy.integrate import cumulative_trapezoid, trapezoid

from radnec.errors import GeometryError, InputError
from radnec.geometry import require_same_grid

log = logging.getLogger(__name__)

#: Robust z-score that separates bolus signal drop (and non-steady-state leading frames) from noise.
BOLUS_Z = 3.0
#: Minimum number of baseline frames needed for S0.
BASELINE_MIN_FRAMES = 3
#: Relative noise floor of the baseline (fraction of its level) for noise-free data.
NOISE_FLOOR_REL = 1e-3
#: A rise after the first-pass trough counts as recirculation when it exceeds this fraction of the
#: reference peak ΔR2* (and BOLUS_Z noise SD).
RECIRCULATION_MIN_RISE = 0.05
#: Block-circulant SVD truncation threshold (fraction of the largest singular value); 0.1 as
#: validated on the OSIPI curves (docs/imaging.md).
SVD_THRESHOLD = 0.1
#: Parametric (gamma transit-time) fit: bounds of the shape λ (dimensionless; λ = 1 is a
#: mono-exponential residue, λ → ∞ a plug flow), of the MTT (s) and of the CBF (s⁻¹, ml/ml/s), and
#: the MTT starting values (s) of the multi-start least-squares fit.
GAMMA_SHAPE_BOUNDS = (0.5, 50.0)
MTT_BOUNDS_S = (0.3, 100.0)
CBF_BOUNDS_PER_S = (1e-6, 1.0)
MTT_STARTS_S = (3.0, 8.0, 20.0)
#: In-plane window (voxels) of the hot-spot filter used for rCBVmax.
HOTSPOT_WINDOW = (1, 3, 3)
#: Signal floor (fraction of S0) against log of zero/negative signal.
SIGNAL_FLOOR_REL = 1e-3


def _robust_level(x: np.ndarray) -> tuple[float, float]:
    med = float(np.median(x))
    mad = float(np.median(np.abs(x - med))) * 1.4826
    return med, max(mad, NOISE_FLOOR_REL * abs(med), np.finfo(float).tiny)


def detect_baseline(curve: np.ndarray) -> tuple[int, int]:
    """Pre-bolus baseline ``[start, end)`` (frame indices) of a mean DSC signal curve.

    Parameters
    ----------
    curve
        Mean signal over the brain, shape ``(T,)`` (signal drops during the bolus).

    Raises
    ------
    InputError
        When no bolus (signal drop) or fewer than ``BASELINE_MIN_FRAMES`` baseline frames are found.
    """
    c = np.asarray(curve, dtype=float)
    i_min = int(np.argmin(c))
    if i_min < BASELINE_MIN_FRAMES + 1:
        raise InputError(
            f"the bolus signal minimum is at frame {i_min}; at least {BASELINE_MIN_FRAMES} pre-bolus baseline "
            "frames are needed (was the series started after the injection?)"
        )
    pre = c[:i_min]
    level, noise = _robust_level(pre[: max(BASELINE_MIN_FRAMES, len(pre) // 2 + 1)])
    if c[i_min] > level - BOLUS_Z * noise:
        raise InputError("no bolus signal drop found in the DSC series (is it a DSC perfusion series?)")
    start = 0
    while start < i_min and c[start] > level + BOLUS_Z * noise:
        start += 1
    below = c[: i_min + 1] < level - BOLUS_Z * noise
    arrival = i_min
    while arrival > start and below[arrival - 1]:
        arrival -= 1
    end = arrival
    if end - start < BASELINE_MIN_FRAMES:
        raise InputError(
            f"only {end - start} baseline frames before the bolus (frames {start}-{end - 1}); "
            f"at least {BASELINE_MIN_FRAMES} are needed"
        )
    return start, end


def delta_r2s(signal: np.ndarray, *, te_s: float, baseline: tuple[int, int]) -> tuple[np.ndarray, np.ndarray]:
    """ΔR2* (s⁻¹) of signal curves: ``−ln(S/S0)/TE``.

    Parameters
    ----------
    signal
        ``(T, ...)`` signal.
    te_s
        Echo time (s).
    baseline
        ``[start, end)`` baseline frames; frames before ``start`` are set to 0.

    Returns
    -------
    (delta_r2s, s0)
        ΔR2* with the shape of ``signal`` and S0 with the shape of one frame (NaN where S0 ≤ 0).
    """
    s = np.asarray(signal, dtype=np.float64)
    start, end = baseline
    s0 = s[start:end].mean(axis=0)
    valid = s0 > 0
    s0_safe = np.where(valid, s0, 1.0)
    ratio = np.maximum(s / s0_safe, SIGNAL_FLOOR_REL)
    dr = -np.log(ratio) / te_s
    dr[:start] = 0.0
    dr[:, ~valid] = np.nan
    return dr, np.where(valid, s0, np.nan)


def boxerman_weisskoff(
    dr2: np.ndarray, reference: np.ndarray, times_s: np.ndarray, *, start: int
) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Boxerman–Weisskoff leakage correction (AJNR 2006;27:859–867).

    Parameters
    ----------
    dr2
        ΔR2* curves ``(T, N)`` (s⁻¹).
    reference
        Mean ΔR2* ``(T,)`` of non-enhancing brain (s⁻¹).
    times_s
        Frame times (s).
    start
        First frame used in the fit (bolus arrival or baseline start).

    Returns
    -------
    (corrected, k1, k2)
        Corrected curves ``(T, N)``, K1 (dimensionless) and K2 (s⁻¹) per curve. K2 > 0 means T1-dominant
        leakage (signal raised, ΔR2* underestimated), K2 < 0 T2*-dominant leakage.
    """
    cum = cumulative_trapezoid(reference, times_s, initial=0.0)
    design = np.column_stack([reference, -cum])[start:]
    coef, *_ = np.linalg.lstsq(design, dr2[start:], rcond=None)
    k1, k2 = coef
    return dr2 + k2[None, :] * cum[:, None], k1, k2


def first_pass_end(reference: np.ndarray, *, start: int, noise: float) -> int:
    """Exclusive end frame of the first pass of the reference ΔR2* curve (3-frame moving average):
    the recirculation trough, or the first frame after the peak where the curve is back within
    ``BOLUS_Z`` noise SD of the baseline, whichever comes first; the series end otherwise."""
    r = ndimage.uniform_filter1d(np.asarray(reference, float), size=3, mode="nearest")
    peak = int(start + np.argmax(r[start:]))
    rise = max(RECIRCULATION_MIN_RISE * r[peak], BOLUS_Z * noise)
    i_min = peak
    for i in range(peak + 1, len(r)):
        if r[i] <= BOLUS_Z * noise:
            return i + 1
        if r[i] < r[i_min]:
            i_min = i
        elif r[i] > r[i_min] + rise:
            return i_min + 1
    return len(r)


def svd_residue(
    tissue: np.ndarray, aif: np.ndarray, dt_s: float, *, threshold: float = SVD_THRESHOLD
) -> np.ndarray:
    """Flow-scaled residue functions ``k(t) = CBF·R(t)`` by block-circulant truncated SVD.

    Parameters
    ----------
    tissue
        Tissue curves ``(T,)`` or ``(T, N)`` (concentration or ΔR2*).
    aif
        Arterial input ``(T,)`` in the same units.
    dt_s
        Frame interval (s).
    threshold
        Singular values below ``threshold × max`` are discarded.

    Returns
    -------
    numpy.ndarray
        ``k`` with the shape of ``tissue`` (s⁻¹); CBF = max k, CBV = Δt·trapz(k).
    """
    a = np.asarray(aif, float)
    n = a.size
    m = 2 * n
    a_pad = np.concatenate([a, np.zeros(n)])
    idx = (np.arange(m)[:, None] - np.arange(m)[None, :]) % m
    mat = a_pad[idx] * dt_s
    u, s, vt = np.linalg.svd(mat)
    s_inv = np.where(s > threshold * s.max(), 1.0 / s, 0.0)
    pinv = (vt.T * s_inv) @ u.T
    c = np.asarray(tissue, float)
    squeeze = c.ndim == 1
    c2 = c[:, None] if squeeze else c
    c_pad = np.concatenate([c2, np.zeros_like(c2)], axis=0)
    k = (pinv @ c_pad)[:n]
    return k[:, 0] if squeeze else k


def cbv_cbf_deconvolution(
    tissue: np.ndarray, aif: np.ndarray, dt_s: float, *, threshold: float = SVD_THRESHOLD
) -> tuple[np.ndarray, np.ndarray]:
    """CBV (fraction, ml/ml) and CBF (s⁻¹, ml/ml/s) from SVD deconvolution.

    CBV is the trapezoidal integral of the residue function, which removes the ``CBF·Δt/2`` bias of a
    rectangle-rule sum (see docs/imaging.md); multiply by 100 for ml/100 ml and CBF by 6000 for
    ml/100 ml/min (no haematocrit or density correction).
    """
    k = svd_residue(tissue, aif, dt_s, threshold=threshold)
    cbv = trapezoid(k, dx=dt_s, axis=0)
    return cbv, np.max(k, axis=0)


def gamma_residue(times_s: np.ndarray, *, mtt_s: float, shape: float) -> np.ndarray:
    """Residue function of a gamma-distributed transit time: ``R(t) = P(transit > t)``.

    Parameters
    ----------
    times_s
        Times since the tracer entered the voxel (s).
    mtt_s
        Mean transit time (s).
    shape
        Gamma shape λ (λ = 1: ``exp(−t/MTT)``).
    """
    return stats.gamma.sf(np.asarray(times_s, float), shape, scale=mtt_s / shape)


def convolve_residue(aif: np.ndarray, residue: np.ndarray, dt_s: float) -> np.ndarray:
    """``Δt·Σ_{k≤n} aif[k]·residue[n−k]``: the discrete convolution of Østergaard L et al. (Magn Reson
    Med 1996;36:715–725), the same discretisation as the SVD matrix of :func:`svd_residue`."""
    return dt_s * signal.lfilter(np.asarray(aif, float), [1.0], np.asarray(residue, float))


def cbv_cbf_parametric(tissue: np.ndarray, aif: np.ndarray, dt_s: float) -> dict[str, float]:
    """CBV, CBF and MTT of one region curve by fitting a gamma transit-time model.

    The tissue curve is modelled as ``CBF·Δt·Σ aif[k]·R(t_n − t_k)`` with ``R`` the residue function of
    a gamma-distributed transit time (:func:`gamma_residue`; Mouridsen K, Friston K, Hjort N, et al.
    Bayesian estimation of cerebral perfusion using a physiological model of microvasculature.
    NeuroImage 2006;33:570–579, doi 10.1016/j.neuroimage.2006.06.015), three parameters (CBF, MTT, λ)
    fitted by bounded least squares in log space from several MTT starting values. CBV = CBF·MTT
    (central volume theorem) is then the blood volume of the model, free of the ``CBF·Δt/2``
    discretisation excess that the area ratio ``Σ tissue / Σ aif`` carries when the curve was made
    (or is sampled) with this left-rectangle convolution, and far less noise-sensitive than the
    area over the whole series (three parameters instead of every frame's noise).

    Meant for region curves (a lesion or reference mean curve), not voxel maps. The AIF must be
    measured at the tissue's arrival time (no delay parameter: a delayed or dispersed AIF biases
    CBF and MTT but little CBV).

    Parameters
    ----------
    tissue
        Tissue concentration (or ΔR2*) curve ``(T,)``.
    aif
        Arterial input ``(T,)`` in the same units and on the same frames.
    dt_s
        Frame interval (s).

    Returns
    -------
    dict
        ``cbv`` (ml/ml; ×100 for ml/100 ml), ``cbf_per_s`` (ml/ml/s; ×6000 for ml/100 ml/min),
        ``mtt_s``, ``shape`` (λ), ``rms_residual`` (curve units) and ``cbv_rel_se`` (relative standard
        error of CBV from the fit's Jacobian and residual noise; white-noise assumption).

    Raises
    ------
    InputError
        When the curves differ in length, are too short, or the AIF has no positive area.
    """
    c = np.asarray(tissue, float)
    a = np.asarray(aif, float)
    if c.ndim != 1 or a.shape != c.shape or c.size < 2 * len(MTT_STARTS_S):
        raise InputError(f"tissue and AIF must be 1-D curves of the same length (got {c.shape} and {a.shape})")
    if not np.all(np.isfinite(c)) or not np.all(np.isfinite(a)):
        raise InputError("the tissue or AIF curve contains NaN/inf values")
    if not trapezoid(a) > 0:
        raise InputError(
            f"the AIF has no positive area ({trapezoid(a):.3g}): is the arterial mask on an artery, and does the "
            "baseline precede its bolus?"
        )
    if not dt_s > 0:
        raise InputError(f"frame interval must be positive (got {dt_s} s)")
    t = np.arange(c.size) * dt_s
    scale = max(float(np.max(np.abs(c))), np.finfo(float).tiny)

    def residual(p: np.ndarray) -> np.ndarray:
        cbf, mtt, shape = np.exp(p)
        return (cbf * convolve_residue(a, gamma_residue(t, mtt_s=mtt, shape=shape), dt_s) - c) / scale

    lo = np.log([CBF_BOUNDS_PER_S[0], MTT_BOUNDS_S[0], GAMMA_SHAPE_BOUNDS[0]])
    hi = np.log([CBF_BOUNDS_PER_S[1], MTT_BOUNDS_S[1], GAMMA_SHAPE_BOUNDS[1]])
    area_ratio = max(trapezoid(np.clip(c, 0, None)) / trapezoid(a), 1e-4)  # ≈ CBV (ml/ml)
    best = None
    for mtt0 in MTT_STARTS_S:
        cbf0 = float(np.clip(area_ratio / mtt0, CBF_BOUNDS_PER_S[0] * 2, CBF_BOUNDS_PER_S[1] / 2))
        fit = optimize.least_squares(residual, np.log([cbf0, mtt0, 2.0]), bounds=(lo, hi))
        if best is None or fit.cost < best.cost:
            best = fit
    assert best is not None
    cbf, mtt, shape = (float(v) for v in np.exp(best.x))
    # Relative standard error of CBV from the Jacobian (log-parameters: log CBV = log CBF + log MTT).
    dof = max(c.size - 3, 1)
    try:
        cov = np.linalg.inv(best.jac.T @ best.jac) * (2.0 * best.cost / dof)
        cbv_rel_se = float(np.sqrt(max(cov[0, 0] + cov[1, 1] + 2.0 * cov[0, 1], 0.0)))
    except np.linalg.LinAlgError:
        cbv_rel_se = float("nan")
    return {
        "cbv": cbf * mtt,
        "cbf_per_s": cbf,
        "mtt_s": mtt,
        "shape": shape,
        "rms_residual": float(np.sqrt(np.mean((best.fun * scale) ** 2))),
        "cbv_rel_se": cbv_rel_se,
    }


@dataclass
class DscResult:
    """Result of :func:`analyze_dsc` (images on the DSC grid)."""

    cbv: sitk.Image
    rcbv: sitk.Image
    reference_mask: sitk.Image
    reference_how: str
    baseline: tuple[int, int]
    window: tuple[int, int]
    lesion: dict[str, Any]
    k2_median_per_s: float | None
    observations: list[dict[str, Any]] = field(default_factory=list)
    cbf: sitk.Image | None = None

    def summary(self) -> dict[str, Any]:
        """JSON-ready summary (no images)."""
        return {
            "baseline_frames": list(self.baseline),
            "integration_frames": list(self.window),
            "reference": self.reference_how,
            "reference_voxels": int(np.count_nonzero(sitk.GetArrayViewFromImage(self.reference_mask))),
            "lesion_k2_median_per_s": self.k2_median_per_s,
            **self.lesion,
            "observations": self.observations,
        }


def _img(arr: np.ndarray, ref: sitk.Image) -> sitk.Image:
    out = sitk.GetImageFromArray(np.asarray(arr, dtype=np.float32))
    out.CopyInformation(ref)
    return out


def analyze_dsc(
    series: Any,
    *,
    lesion: sitk.Image,
    white_matter: sitk.Image | None = None,
    brain: sitk.Image | None = None,
    aif: sitk.Image | None = None,
    leakage_correction: bool = True,
    method: str = "integration",
) -> DscResult:
    """Quantify a DSC series in a lesion.

    Parameters
    ----------
    series
        A :class:`radnec.ingest.dsc.DscSeries`.
    lesion
        Lesion mask (``sitkUInt8``) on the DSC grid (resample it there first).
    white_matter
        Reference normal-appearing white-matter mask on the DSC grid; default: the lesion mirrored
        across the mid-sagittal plane.
    brain
        Brain mask on the DSC grid; default: Otsu mask of the baseline image.
    aif
        Arterial-input mask; required for ``method="deconvolution"`` (also reports relative CBF).
    leakage_correction
        Apply the Boxerman–Weisskoff correction (default True).
    method
        ``"integration"`` (AIF-free, clinical rCBV) or ``"deconvolution"`` (SVD with the AIF).
    """
    from radnec.imaging.contralateral import contralateral_mask, head_mask_otsu
    from radnec.imaging.knowledge import observation

    ref_img = series.reference
    require_same_grid(ref_img, lesion, what="DSC series and lesion mask")
    les = sitk.GetArrayViewFromImage(lesion) > 0
    if not les.any():
        raise GeometryError("the lesion mask is empty on the DSC grid")
    if method not in ("integration", "deconvolution"):
        raise InputError(f"unknown CBV method {method!r} (integration or deconvolution)")
    if method == "deconvolution" and aif is None:
        raise InputError("CBV by deconvolution needs an arterial input mask (--aif)")
    sig = np.asarray(series.signal, dtype=np.float64)
    t_n = sig.shape[0]
    baseline_img = _img(sig[: max(BASELINE_MIN_FRAMES, 1)].mean(axis=0), ref_img)
    if brain is None:
        brain = head_mask_otsu(baseline_img)
    else:
        require_same_grid(ref_img, brain, what="DSC series and brain mask")
    br = sitk.GetArrayViewFromImage(brain) > 0
    if not br.any():
        raise GeometryError("the brain mask is empty on the DSC grid")

    flat = sig.reshape(t_n, -1)
    brain_idx = np.flatnonzero(br | les)
    baseline = detect_baseline(flat[:, np.flatnonzero(br)].mean(axis=1))
    dr, _s0 = delta_r2s(flat[:, brain_idx], te_s=series.te_s, baseline=baseline)
    good = np.all(np.isfinite(dr), axis=0)
    les_flat = les.ravel()[brain_idx]
    normal = good & ~les_flat
    if not normal.any():
        raise GeometryError("no brain voxel outside the lesion with a valid signal: cannot build the reference curve")
    ref_curve = dr[:, normal].mean(axis=1)
    times = np.asarray(series.times_s, float)
    k2 = None
    if leakage_correction:
        dr_corr, _k1, k2_all = boxerman_weisskoff(np.nan_to_num(dr), ref_curve, times, start=baseline[0])
        k2 = float(np.median(k2_all[les_flat & good])) if (les_flat & good).any() else None
    else:
        dr_corr = np.nan_to_num(dr)
    noise = float(np.std(ref_curve[baseline[0]:baseline[1]]))
    end = first_pass_end(ref_curve, start=baseline[1], noise=noise)
    window = (baseline[1], end)
    cbf_img = None
    aif_curve, dt = None, None
    if method == "integration":
        lo = max(window[0] - 1, 0)  # include the last baseline frame: the integral starts at ΔR2* ≈ 0
        cbv_vals = trapezoid(dr_corr[lo:end], times[lo:end], axis=0)
    else:
        assert aif is not None
        require_same_grid(ref_img, aif, what="DSC series and AIF mask")
        aif_m = (sitk.GetArrayViewFromImage(aif) > 0).ravel()[brain_idx]
        if not aif_m.any():
            raise GeometryError("the AIF mask has no voxel inside the brain/lesion region of the DSC grid")
        aif_curve = np.nan_to_num(dr[:, aif_m & good]).mean(axis=1)
        dt = float(np.median(np.diff(times)))
        cbv_vals, cbf_vals = cbv_cbf_deconvolution(dr_corr, aif_curve, dt)
        cbf_full = np.zeros(flat.shape[1])
        cbf_full[brain_idx] = np.where(good, cbf_vals, 0.0)
        cbf_img = _img(cbf_full.reshape(les.shape), ref_img)
    cbv_full = np.zeros(flat.shape[1])
    cbv_full[brain_idx] = np.where(good, cbv_vals, 0.0)
    cbv_arr = cbv_full.reshape(les.shape)

    how = "user white-matter mask"
    if white_matter is None:
        white_matter = contralateral_mask(lesion, head=brain)
        how = "lesion mirrored across the mid-sagittal plane (contralateral normal-appearing tissue)"
    else:
        require_same_grid(ref_img, white_matter, what="DSC series and white-matter mask")
    wm = (sitk.GetArrayViewFromImage(white_matter) > 0) & br & ~les
    if not wm.any():
        raise GeometryError("the white-matter reference region has no brain voxel outside the lesion")
    ref_cbv = float(np.median(cbv_arr[wm]))
    if not ref_cbv > 0:
        raise InputError(f"reference CBV is {ref_cbv:.3g} (not positive): the reference region has no bolus signal")
    rcbv = cbv_arr / ref_cbv
    # hot spot: mean over the lesion voxels of each in-plane window (normalised convolution, so that
    # normal tissue next to a small lesion does not dilute it)
    les_f = les.astype(float)
    num = ndimage.uniform_filter(rcbv * les_f, size=HOTSPOT_WINDOW, mode="nearest")
    den = ndimage.uniform_filter(les_f, size=HOTSPOT_WINDOW, mode="nearest")
    hot = np.where(den > 0, num / np.maximum(den, 1e-12), 0.0)
    rcbv_mean = float(rcbv[les].mean())
    rcbv_max = float(hot[les].max())

    # PSR and peak height of the lesion mean signal curve.
    lcurve = flat[:, np.flatnonzero(les.ravel())].mean(axis=1)
    s0 = float(lcurve[baseline[0]:baseline[1]].mean())
    i_min = int(np.argmin(lcurve))
    smin = float(lcurve[i_min])
    n_tail = baseline[1] - baseline[0]
    s1 = float(lcurve[-n_tail:].mean())
    if not s0 > smin:
        raise InputError("the lesion mean signal shows no bolus drop; PSR is undefined")
    psr = 100.0 * (s1 - smin) / (s0 - smin)
    peak_pct = 100.0 * (s0 - smin) / s0
    peak_dr2 = float(-np.log(max(smin / s0, SIGNAL_FLOOR_REL)) / series.te_s)
    # Relative peak height (Barajas 2009's rPH): peak ΔR2* of the lesion mean curve over that of the
    # reference-region mean curve.
    rcurve = flat[:, np.flatnonzero(wm.ravel())].mean(axis=1)
    r0 = float(rcurve[baseline[0]:baseline[1]].mean())
    rmin = float(rcurve.min())
    ref_peak_dr2 = float(-np.log(max(rmin / r0, SIGNAL_FLOOR_REL)) / series.te_s) if r0 > 0 else float("nan")
    rph = peak_dr2 / ref_peak_dr2 if ref_peak_dr2 > 0 else None

    src = "radnec.imaging.perfusion (DSC)"
    unit = "ratio to contralateral white matter"
    ref_note = f"reference: {how}; CBV by {method}" + (", leakage-corrected (Boxerman-Weisskoff)" if leakage_correction else "")
    obs = [
        observation("dsc_rcbv_mean", rcbv_mean, unit, source=src, note=ref_note),
        observation("dsc_rcbv_max", rcbv_max, unit, source=src, note=ref_note + "; 3x3 in-plane hot spot"),
        observation("dsc_psr_pct", psr, "%", source=src, note="lesion mean curve; S1 = mean of the last frames"),
    ]
    lesion_stats = {
        "rcbv_mean": rcbv_mean,
        "rcbv_max": rcbv_max,
        "psr_pct": psr,
        "peak_height_pct": peak_pct,
        "peak_delta_r2s_per_s": peak_dr2,
        "relative_peak_height": rph,
        "lesion_voxels": int(les.sum()),
        "reference_cbv": ref_cbv,
        "method": method,
        "leakage_corrected": leakage_correction,
    }
    if cbf_img is not None:
        cbf_arr = sitk.GetArrayViewFromImage(cbf_img)
        ref_cbf = float(np.median(cbf_arr[wm]))
        lesion_stats["rcbf_mean"] = float(cbf_arr[les].mean() / ref_cbf) if ref_cbf > 0 else None
        # Region-curve cross-check: the gamma transit-time model fitted to the lesion and reference
        # mean (corrected) ΔR2* curves with the same AIF.
        wm_flat = wm.ravel()[brain_idx]
        assert aif_curve is not None and dt is not None
        try:
            fit_l = cbv_cbf_parametric(dr_corr[:, les_flat & good].mean(axis=1), aif_curve, dt)
            fit_r = cbv_cbf_parametric(dr_corr[:, wm_flat & good].mean(axis=1), aif_curve, dt)
            lesion_stats["rcbv_model"] = fit_l["cbv"] / fit_r["cbv"] if fit_r["cbv"] > 0 else None
        except InputError as exc:
            log.warning("DSC: gamma-model fit of the region curves failed (%s)", exc)
            lesion_stats["rcbv_model"] = None
    log.info("DSC: baseline %s, window %s, rCBVmean %.2f, PSR %.1f %%", baseline, window, rcbv_mean, psr)
    ref_mask = sitk.GetImageFromArray(wm.astype(np.uint8))
    ref_mask.CopyInformation(ref_img)
    return DscResult(
        cbv=_img(cbv_arr, ref_img),
        rcbv=_img(rcbv, ref_img),
        reference_mask=ref_mask,
        reference_how=how,
        baseline=baseline,
        window=window,
        lesion=lesion_stats,
        k2_median_per_s=k2,
        observations=obs,
        cbf=cbf_img,
    )


__all__ = [
    "detect_baseline",
    "delta_r2s",
    "boxerman_weisskoff",
    "first_pass_end",
    "svd_residue",
    "cbv_cbf_deconvolution",
    "gamma_residue",
    "convolve_residue",
    "cbv_cbf_parametric",
    "analyze_dsc",
    "DscResult",
]
