"""Synthetic lesions for the lesion tests: analytic shapes on a known grid, with noise.

``rim_lesion`` builds a T1c (enhancing spherical shell around a dark necrotic core, in brain-like
background with a darker edema halo) and a FLAIR (bright edema). The true masks come from the
same analytic shapes, so the tests can measure Dice, volumes and diameters against them.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import SimpleITK as sitk


@dataclass
class Synth:
    t1c: sitk.Image
    flair: sitk.Image
    t2: sitk.Image
    enhancing: sitk.Image
    necrotic: sitk.Image
    edema: sitk.Image
    lesion: sitk.Image
    centre_lps: tuple[float, float, float]


def _img(arr: np.ndarray, spacing, origin, direction) -> sitk.Image:
    im = sitk.GetImageFromArray(arr)
    im.SetSpacing(spacing)
    im.SetOrigin(origin)
    im.SetDirection(direction)
    return im


def rim_lesion(
    *,
    outer_mm: float = 9.0,
    core_mm: float = 5.5,
    edema_mm: float = 22.0,
    size: int = 64,
    spacing=(1.0, 1.0, 1.0),
    origin=(-20.0, 10.0, 30.0),
    direction=(1.0, 0.0, 0.0, 0.0, 1.0, 0.0, 0.0, 0.0, 1.0),
    noise: float = 15.0,
    seed: int = 0,
    core_ramp_mm: float = 0.0,
) -> Synth:
    """A rim-enhancing lesion (core_mm = 0 gives a solid nodule) centred in a ``size``³ grid.

    ``core_ramp_mm`` > 0: the core is dark only in its centre; over the outer ``core_ramp_mm`` of the
    core its T1c intensity rises linearly to the normal-tissue level at the inner edge of the rim (a
    wide partial-volume/transition zone, as in large necrotic cores).
    """
    rng = np.random.default_rng(seed)
    sp = np.asarray(spacing, float)
    n = np.array([size, size, size])
    if sp[2] > sp[0]:
        n[2] = max(int(round(size * sp[0] / sp[2])), 8)
    # supersampled distances for partial-volume intensities
    ss = 3
    offs = (np.arange(ss) + 0.5) / ss - 0.5
    centre_idx = (n - 1) / 2.0
    zz, yy, xx = np.meshgrid(*(np.arange(k) for k in n[::-1]), indexing="ij")
    frac_outer = np.zeros(zz.shape)
    frac_core = np.zeros(zz.shape)
    frac_edema = np.zeros(zz.shape)
    for dz in offs:
        for dy in offs:
            for dx in offs:
                r = np.sqrt(
                    ((xx + dx - centre_idx[0]) * sp[0]) ** 2
                    + ((yy + dy - centre_idx[1]) * sp[1] * 0.9) ** 2  # slightly elongated along y
                    + ((zz + dz - centre_idx[2]) * sp[2]) ** 2
                )
                frac_outer += r <= outer_mm
                frac_core += r <= core_mm
                frac_edema += r <= edema_mm
    frac_outer /= ss**3
    frac_core /= ss**3
    frac_edema /= ss**3
    frac_rim = frac_outer - frac_core
    frac_ed = frac_edema - frac_outer
    brain = 300.0
    core_t1 = 120.0
    if core_ramp_mm > 0:
        r0 = np.sqrt(
            ((xx - centre_idx[0]) * sp[0]) ** 2 + ((yy - centre_idx[1]) * sp[1] * 0.9) ** 2 + ((zz - centre_idx[2]) * sp[2]) ** 2
        )
        core_t1 = 120.0 + (brain - 120.0) * np.clip((r0 - (core_mm - core_ramp_mm)) / core_ramp_mm, 0.0, 1.0)
    t1 = brain * (1 - frac_outer - frac_ed) + 700.0 * frac_rim + core_t1 * frac_core + 250.0 * frac_ed
    fl = 350.0 * (1 - frac_outer - frac_ed) + 420.0 * frac_rim + 500.0 * frac_core + 700.0 * frac_ed
    t2 = 300.0 * (1 - frac_outer - frac_ed) + 350.0 * frac_rim + 800.0 * frac_core + 600.0 * frac_ed
    t1 = t1 + rng.normal(0, noise, t1.shape)
    fl = fl + rng.normal(0, noise, fl.shape)
    t2 = t2 + rng.normal(0, noise, t2.shape)
    args = (tuple(float(v) for v in sp), origin, direction)
    truth_outer = frac_outer >= 0.5
    truth_core = frac_core >= 0.5
    truth_edema = (frac_edema >= 0.5) & ~truth_outer
    t1c_img = _img(t1.astype(np.float32), *args)
    c = t1c_img.TransformContinuousIndexToPhysicalPoint(tuple(float(v) for v in centre_idx))
    return Synth(
        t1c=t1c_img,
        flair=_img(fl.astype(np.float32), *args),
        t2=_img(t2.astype(np.float32), *args),
        enhancing=_img((truth_outer & ~truth_core).astype(np.uint8), *args),
        necrotic=_img(truth_core.astype(np.uint8), *args),
        edema=_img(truth_edema.astype(np.uint8), *args),
        lesion=_img(truth_outer.astype(np.uint8), *args),
        centre_lps=tuple(float(v) for v in c),
    )
