"""Synthetic MR contrasts from tissue maps: T1 post-contrast and FLAIR (uint16 arrays).

Signal levels are arbitrary scanner units chosen to look like clinical images (phantom design,
not physics): T1c uses the template T1 (white matter ~880, grey ~600, CSF ~200), the enhancing
lesion is brighter than white matter, the necrotic core dark and edema slightly dark; FLAIR is
built from grey/white/CSF probabilities (CSF dark) with bright edema. Noise is Rician
(magnitude of complex Gaussian noise), the bias field a smooth random quadratic.
"""

from __future__ import annotations

import numpy as np
from scipy import ndimage

#: Signal levels (arbitrary units, phantom design).
T1_SCALE = 1000.0
T1C_ENHANCING = 1450.0
T1C_CORE = 260.0
T1C_EDEMA_FACTOR = 0.86
FLAIR_WM = 420.0
FLAIR_GM = 560.0
FLAIR_CSF = 50.0
FLAIR_EDEMA = 930.0
FLAIR_ENHANCING = 760.0
FLAIR_CORE = 640.0
MAX_UINT = 4095
#: Partial-volume smoothing of the label masks (voxels).
PV_SIGMA_VOX = 0.6


def _pv(mask: np.ndarray) -> np.ndarray:
    return ndimage.gaussian_filter(mask.astype(np.float32), PV_SIGMA_VOX)


def bias_field(rng: np.random.Generator, shape: tuple[int, int, int], amplitude: float) -> np.ndarray:
    """Smooth multiplicative field ``1 + amplitude * q(x)``, q a random quadratic in [-1, 1]."""
    if amplitude <= 0:
        return np.ones(shape, dtype=np.float32)
    coef = rng.uniform(-1, 1, size=9).astype(np.float32)
    z, y, x = (np.linspace(-1, 1, n, dtype=np.float32) for n in shape)
    z = z[:, None, None]; y = y[None, :, None]; x = x[None, None, :]
    q = (coef[0] * x + coef[6] * x * x + coef[3] * x * y + coef[1] * y + coef[7] * y * y) + (
        coef[2] * z + coef[8] * z * z + coef[4] * y * z + coef[5] * x * z)
    q = q / max(float(np.abs(q).max()), 1e-6)
    return (1.0 + amplitude * q).astype(np.float32)


def rician(rng: np.random.Generator, signal: np.ndarray, sigma: float) -> np.ndarray:
    """Magnitude of signal plus complex Gaussian noise of standard deviation ``sigma``."""
    re = signal + sigma * rng.standard_normal(signal.shape, dtype=np.float32)
    im = sigma * rng.standard_normal(signal.shape, dtype=np.float32)
    return np.sqrt(re * re + im * im)


def _pv_box(mask: np.ndarray) -> np.ndarray:
    """Partial-volume fraction of a mask, blurred only inside its bounding box (+4 voxels)."""
    out = np.zeros(mask.shape, dtype=np.float32)
    if not mask.any():
        return out
    nz = np.argwhere(mask)
    lo = np.maximum(nz.min(0) - 4, 0)
    hi = np.minimum(nz.max(0) + 5, mask.shape)
    box = tuple(slice(a, b) for a, b in zip(lo, hi))
    out[box] = _pv(mask[box])
    return out


def clean_images(
    *,
    t1: np.ndarray,
    gm: np.ndarray,
    wm: np.ndarray,
    csf: np.ndarray,
    brain: np.ndarray,
    enhancing: np.ndarray,
    core: np.ndarray,
    edema: np.ndarray,
) -> tuple[np.ndarray, np.ndarray]:
    """Noise-free (T1c, FLAIR) float32 signals (all inputs share one grid)."""
    f_ed, f_en, f_co = _pv_box(edema), _pv_box(enhancing), _pv_box(core)
    t1c = T1_SCALE * t1
    t1c = t1c * (1.0 - f_ed * (1.0 - T1C_EDEMA_FACTOR))
    t1c = t1c * (1.0 - f_en) + T1C_ENHANCING * f_en
    t1c = t1c * (1.0 - f_co) + T1C_CORE * f_co
    flair = (FLAIR_WM * wm + FLAIR_GM * gm + FLAIR_CSF * csf) * np.clip(brain * 1.2, 0, 1)
    flair = flair * (1.0 - f_ed) + FLAIR_EDEMA * f_ed
    flair = flair * (1.0 - f_en) + FLAIR_ENHANCING * f_en
    flair = flair * (1.0 - f_co) + FLAIR_CORE * f_co
    return t1c.astype(np.float32), flair.astype(np.float32)


def acquire(image: np.ndarray, *, rng: np.random.Generator, noise_fraction: float, bias_amplitude: float) -> np.ndarray:
    """Apply a smooth bias field and Rician noise; return uint16 (0..4095)."""
    b = bias_field(rng, image.shape, bias_amplitude)
    noisy = rician(rng, image * b, noise_fraction * T1_SCALE * 0.88)
    return np.clip(np.rint(noisy), 0, MAX_UINT).astype(np.uint16)


#: Routine-protocol contrasts of ``--protocol clinical-2d`` (arbitrary units, phantom design, not
#: physics): pre-contrast T1 (lesion slightly hypointense, no enhancement), T2 (CSF bright, edema
#: and necrosis bright) and ADC (1e-6 mm²/s; typical adult values: white matter ~700, grey ~800,
#: CSF ~3000, vasogenic edema ~1400, solid metastasis ~1000, necrosis ~2000).
T1PRE_LESION = 640.0
T2_WM, T2_GM, T2_CSF = 300.0, 450.0, 1500.0
T2_EDEMA, T2_ENHANCING, T2_CORE = 900.0, 650.0, 1100.0
ADC_WM, ADC_GM, ADC_CSF = 700.0, 800.0, 3000.0
ADC_EDEMA, ADC_ENHANCING, ADC_CORE = 1400.0, 1000.0, 2000.0


def routine_images(
    *,
    t1: np.ndarray,
    gm: np.ndarray,
    wm: np.ndarray,
    csf: np.ndarray,
    brain: np.ndarray,
    enhancing: np.ndarray,
    core: np.ndarray,
    edema: np.ndarray,
) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Noise-free (pre-contrast T1, T2, ADC in 1e-6 mm²/s) float32 signals (all inputs share one grid)."""
    f_ed, f_en, f_co = _pv_box(edema), _pv_box(enhancing), _pv_box(core)
    t1pre = T1_SCALE * t1 * (1.0 - f_ed * (1.0 - T1C_EDEMA_FACTOR))
    t1pre = t1pre * (1.0 - f_en) + T1PRE_LESION * f_en
    t1pre = t1pre * (1.0 - f_co) + T1C_CORE * f_co
    head = np.clip(brain * 1.2, 0, 1)
    t2 = (T2_WM * wm + T2_GM * gm + T2_CSF * csf) * head
    adc = (ADC_WM * wm + ADC_GM * gm + ADC_CSF * csf) * head
    for img, (e, n, c) in ((t2, (T2_EDEMA, T2_ENHANCING, T2_CORE)), (adc, (ADC_EDEMA, ADC_ENHANCING, ADC_CORE))):
        img *= 1.0 - f_ed
        img += e * f_ed
        img *= 1.0 - f_en
        img += n * f_en
        img *= 1.0 - f_co
        img += c * f_co
    return t1pre.astype(np.float32), t2.astype(np.float32), adc.astype(np.float32)
