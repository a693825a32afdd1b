"""Lesion geometry in the planning frame: level fields (mm, > 0 inside) per time point.

Each lesion is described by continuous "level" fields on the planning grid rather than by
binary masks: ``lesion`` (> 0 inside the T1c lesion = enhancing + necrotic core), ``core``
(> 0 inside the non-enhancing core) and, shared by all lesions, ``edema`` (> 0 inside the
FLAIR-hyperintense region). Being distance-like they can be resampled linearly into each
follow-up frame and thresholded at 0, which gives smooth truth masks consistent with the image.
"""

from __future__ import annotations

from dataclasses import dataclass, field

import numpy as np
from scipy import ndimage

from radnec.errors import InputError

#: Relative amplitude of the radius irregularity of solid lesions (phantom design).
SHAPE_NOISE = 0.08
#: Smoothness of the random shape/edema fields (mm, phantom design).
NOISE_SIGMA_MM = 4.0
#: Septum thickness between necrotic "soap bubbles" (mm, phantom design).
SEPTUM_MM = 1.5


@dataclass
class TimepointLesions:
    """Planning-frame lesion fields of one time point (arrays z, y, x, float32, mm)."""

    lesion: dict[str, np.ndarray]
    core: dict[str, np.ndarray]
    edema: np.ndarray
    centres: dict[str, np.ndarray] = field(default_factory=dict)  # LPS mm, seed points
    edema_ratio_target: dict[str, float] = field(default_factory=dict)


def smooth_noise(rng: np.random.Generator, shape: tuple[int, ...], sigma_vox: float) -> np.ndarray:
    """Gaussian-smoothed white noise normalised to unit standard deviation (float32)."""
    n = ndimage.gaussian_filter(rng.standard_normal(shape).astype(np.float32), sigma_vox)
    return (n / max(float(n.std()), 1e-6)).astype(np.float32)


def distance_to(axes: tuple[np.ndarray, np.ndarray, np.ndarray], c: np.ndarray) -> np.ndarray:
    """Euclidean distance (mm) from every voxel centre to the LPS point ``c``."""
    z, y, x = axes
    return np.sqrt((x - c[0]) ** 2 + (y - c[1]) ** 2 + (z - c[2]) ** 2, dtype=np.float32)


#: Value of a level field far from its object (mm; "clearly outside").
FAR_OUTSIDE_MM = -100.0


def _box(axes, c: np.ndarray, half_mm: float) -> tuple[slice, slice, slice]:
    z, y, x = axes
    out = []
    for ax, cc in ((z.ravel(), c[2]), (y.ravel(), c[1]), (x.ravel(), c[0])):
        idx = np.flatnonzero(np.abs(ax - cc) <= half_mm)
        out.append(slice(int(idx[0]), int(idx[-1]) + 1) if idx.size else slice(0, 0))
    return tuple(out)  # type: ignore[return-value]


def sphere_level(axes, c: np.ndarray, radius: float, noise: np.ndarray, *, amplitude: float = SHAPE_NOISE) -> np.ndarray:
    """Irregular sphere: ``r (1 + a n(x)) - |x - c|``, evaluated in a box around ``c`` (outside the
    box the level is :data:`FAR_OUTSIDE_MM`)."""
    half = radius * (1.0 + 5.0 * amplitude) + 20.0
    box = _box(axes, c, half)
    out = np.full(noise.shape, FAR_OUTSIDE_MM, dtype=np.float32)
    sub_axes = (axes[0][box[0]], axes[1][:, box[1]], axes[2][:, :, box[2]])
    out[box] = radius * (1.0 + amplitude * noise[box]) - distance_to(sub_axes, c)
    return out


def ring_core(level: np.ndarray, rim_mm: float) -> np.ndarray:
    """Core of a ring-enhancing lesion: the lesion eroded by the rim thickness."""
    return level - rim_mm


def bubble_cluster(levels: list[np.ndarray], rim_mm: float) -> tuple[np.ndarray, np.ndarray]:
    """Union of overlapping "bubbles" with septa: returns (lesion level, core level).

    The core is where the best bubble is deeper than ``rim_mm`` and clearly ahead of the second
    best (``SEPTUM_MM``), which leaves thin enhancing septa between bubbles (soap-bubble look)."""
    anyin = np.zeros(levels[0].shape, dtype=bool)
    for a in levels:
        anyin |= a > -20.0
    s1 = np.full_like(levels[0], FAR_OUTSIDE_MM)
    core = np.full_like(levels[0], FAR_OUTSIDE_MM)
    if not anyin.any():
        return s1, core
    nz = np.argwhere(anyin)
    box = tuple(slice(a, b + 1) for a, b in zip(nz.min(0), nz.max(0)))
    b1 = np.full(anyin[box].shape, -np.inf, dtype=np.float32)
    b2 = np.full_like(b1, -np.inf)
    for a in levels:
        b2 = np.maximum(b2, np.minimum(b1, a[box]))
        b1 = np.maximum(b1, a[box])
    s1[box] = b1
    core[box] = np.minimum(b1 - rim_mm, (b1 - b2) - SEPTUM_MM)
    return s1, core


def edema_level(
    *,
    dist_eff: np.ndarray,
    allowed: np.ndarray,
    target_cc: float,
    voxel_cc: float,
) -> np.ndarray:
    """Edema level ``R_e - dist_eff`` with ``R_e`` chosen so that the allowed voxels inside
    amount to ``target_cc`` (exact up to one voxel)."""
    vals = np.sort(dist_eff[allowed])
    n = int(round(target_cc / voxel_cc))
    if n <= 0 or vals.size == 0:
        return np.full(dist_eff.shape, -1.0, dtype=np.float32)
    n = min(n, vals.size - 1)
    r_e = 0.5 * (vals[n - 1] + vals[n]) if n > 0 else vals[0] - 0.5
    return (r_e - dist_eff).astype(np.float32)


def prescription_for(diameter_mm: float, fractions: int, cfg: dict) -> float:
    """Prescription (Gy) from ``scenarios.yaml`` (ASTRO 2022, Gondi et al.)."""
    if fractions == 1:
        for row in cfg["single_fraction"]:
            if diameter_mm < row["max_diameter_mm"]:
                return float(row["dose_gy"])
        raise InputError(
            f"a {diameter_mm:.0f} mm metastasis is beyond the single-fraction table of ASTRO 2022; "
            "use --fractions 3 or 5"
        )
    if fractions in cfg["hypofractionated"]:
        return float(cfg["hypofractionated"][fractions])
    raise InputError(f"--fractions {fractions} is not supported; use 1, 3 or 5")
