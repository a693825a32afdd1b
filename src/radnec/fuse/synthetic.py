"""Synthetic planning/follow-up pairs with a KNOWN planning → follow-up transform.

Used by the fusion tests (on a small generated head) and by ``benchmarks/bench_fusion.py`` (on the
MNI152 template). The phantom package (``radnec.phantom``) builds full clinical cases; this module
only builds what registration needs: two images, lesion masks and the exact truth.

Model of a follow-up (all lengths in mm, LPS):

* planning image ``P`` = anatomy ``A`` with a small enhancing lesion (radius ``r0``) at ``c``;
* follow-up anatomy in the planning frame ``F(q) = A(q - u(q))``: tissue pushed away from ``c`` by a
  radial mass-effect field ``u(q) = a (q - c)/σ exp(1/2 - |q - c|²/(2σ²))`` whose magnitude peaks at
  ``a`` mm at ``|q - c| = σ``; then a grown ring-enhancing lesion (radius ``r1``, necrotic core) and
  T1-hypointense oedema (radius ``r2``) are painted in;
* follow-up image ``Fu(y) = g(F(R⁻¹ y)) · b(y) + noise``: rigid motion ``R`` (rotation about the
  image centre, translation), a monotone contrast change ``g`` (gamma), a smooth multiplicative bias
  field ``b`` and Gaussian noise.

So the follow-up point of planning point ``p`` is ``T(p) = R(w⁻¹(p))`` with ``w(q) = q - u(q)``; the
generator keeps ``G = w ∘ R⁻¹`` (follow-up → planning) and evaluates the target registration error
exactly as ``|T_est(G(y)) - y|`` at follow-up points ``y`` — no field inversion needed.
"""

from __future__ import annotations

from dataclasses import dataclass, field

import numpy as np
import SimpleITK as sitk

from radnec.geometry import physical_points


@dataclass
class SyntheticPair:
    """A planning/follow-up pair with its truth. All geometry in LPS mm."""

    planning: sitk.Image
    followup: sitk.Image
    #: follow-up → planning transform used to generate the follow-up (G = w ∘ R⁻¹).
    generator: sitk.Transform
    #: planning-frame brain mask (0/1) — where TRE is measured.
    brain_mask: sitk.Image
    #: lesion + oedema on the follow-up grid (what a user would segment on the follow-up).
    followup_lesion_mask: sitk.Image
    #: planning lesion (GTV) on the planning grid.
    planning_lesion_mask: sitk.Image
    lesion_center_lps: np.ndarray
    lesion_radius_mm: float
    edema_radius_mm: float
    rigid: sitk.Euler3DTransform
    parameters: dict = field(default_factory=dict)


def synthetic_head(
    *, size: tuple[int, int, int] = (64, 72, 60), spacing_mm: float = 2.5, seed: int = 0
) -> tuple[sitk.Image, sitk.Image]:
    """A small generated T1-like head (skull shell, brain with smooth texture, ventricles).

    Returns
    -------
    (image, brain_mask)
        float32 image (arbitrary units, brain ≈ 100) and sitkUInt8 brain mask, centred on the
        origin-centred grid (LPS mm).
    """
    rng = np.random.default_rng(seed)
    nx, ny, nz = size
    z, y, x = np.meshgrid(
        (np.arange(nz) - (nz - 1) / 2) * spacing_mm,
        (np.arange(ny) - (ny - 1) / 2) * spacing_mm,
        (np.arange(nx) - (nx - 1) / 2) * spacing_mm,
        indexing="ij",
    )
    ax, ay, az = nx * spacing_mm * 0.40, ny * spacing_mm * 0.42, nz * spacing_mm * 0.40
    head = (x / ax) ** 2 + (y / ay) ** 2 + (z / az) ** 2
    brain = (x / (0.88 * ax)) ** 2 + (y / (0.88 * ay)) ** 2 + (z / (0.88 * az)) ** 2 <= 1.0
    vent = ((x - 6) / 7) ** 2 + (y / 18) ** 2 + (z / 9) ** 2 <= 1.0
    vent |= ((x + 6) / 7) ** 2 + (y / 18) ** 2 + (z / 9) ** 2 <= 1.0
    from scipy.ndimage import gaussian_filter

    tex = gaussian_filter(rng.standard_normal(size[::-1]), sigma=4.0 / spacing_mm * 1.2)
    tex /= np.abs(tex).max()
    img = np.zeros(size[::-1], dtype=np.float32)
    img[head <= 1.0] = 60.0  # scalp / skull marrow
    img[(head <= 1.0) & ~brain & (head > ((0.94) ** 2))] = 140.0  # bright fat shell
    img[brain] = 100.0 + 35.0 * tex[brain]  # "grey/white" texture
    img[vent & brain] = 25.0  # CSF dark on T1
    image = sitk.GetImageFromArray(img)
    image.SetSpacing((spacing_mm,) * 3)
    image.SetOrigin(tuple(-(np.asarray(size) - 1) / 2 * spacing_mm))
    mask = sitk.GetImageFromArray((brain & ~vent).astype(np.uint8))
    mask.CopyInformation(image)
    return image, mask


def mass_effect_field(
    reference: sitk.Image, *, center_lps: np.ndarray, amplitude_mm: float, sigma_mm: float, spacing_mm: float = 2.0
) -> sitk.Image:
    """Displacement ``-u(q)`` (vector image, mm) on a grid covering ``reference`` with ``spacing_mm``.

    ``u`` is the outward radial mass-effect field described in the module docstring; the returned
    field is the pull-back ``w(q) = q - u(q)`` used to resample the anatomy.
    """
    size = [int(np.ceil(s * sp / spacing_mm)) + 1 for s, sp in zip(reference.GetSize(), reference.GetSpacing())]
    grid = sitk.Image(size, sitk.sitkVectorFloat64, 3)
    grid.SetOrigin(reference.GetOrigin())
    grid.SetSpacing((spacing_mm,) * 3)
    grid.SetDirection(reference.GetDirection())
    idx = np.argwhere(np.ones(size[::-1], dtype=bool))
    pts = physical_points(grid, idx)
    d = pts - np.asarray(center_lps)
    r2 = np.sum(d**2, axis=1)
    u = amplitude_mm * d / sigma_mm * np.exp(0.5 - r2 / (2 * sigma_mm**2))[:, None]
    arr = (-u).reshape(size[2], size[1], size[0], 3)
    out = sitk.GetImageFromArray(arr, isVector=True)
    out.CopyInformation(grid)
    return out


def _distance_image(reference: sitk.Image, center_lps: np.ndarray) -> np.ndarray:
    idx = np.argwhere(np.ones(reference.GetSize()[::-1], dtype=bool))
    pts = physical_points(reference, idx)
    return np.linalg.norm(pts - np.asarray(center_lps), axis=1).reshape(reference.GetSize()[::-1])


def make_pair(
    anatomy: sitk.Image,
    brain_mask: sitk.Image,
    *,
    seed: int,
    lesion_center_lps: np.ndarray | None = None,
    max_rotation_deg: float = 10.0,
    max_translation_mm: float = 15.0,
    mass_effect_mm: float | None = None,
    max_mass_effect_mm: float = 5.0,
    lesion_radius_mm: tuple[float, float] = (4.0, 9.0),
    edema_radius_mm: float = 16.0,
    gamma_range: tuple[float, float] = (0.7, 1.4),
    bias_amplitude: float = 0.15,
    noise_fraction: float = 0.02,
) -> SyntheticPair:
    """Build a planning/follow-up pair with known truth from an anatomy image.

    Parameters
    ----------
    anatomy, brain_mask
        Planning anatomy (float, any units) and its brain mask (0/1) on the same grid.
    seed
        Random seed (rotation, translation, mass effect, contrast, bias, noise, lesion site).
    lesion_center_lps
        Lesion centre (LPS mm); default: a random brain voxel at least 25 mm deep inside the brain.
    max_rotation_deg, max_translation_mm
        Per-axis uniform rigid misalignment bounds (degrees, mm). Zero for a same-position pair.
    mass_effect_mm
        Peak mass-effect displacement (mm); default uniform in ``[0.6, 1.0] × max_mass_effect_mm``.
    lesion_radius_mm
        (planning, follow-up) enhancing lesion radius, mm.
    edema_radius_mm
        Follow-up oedema radius, mm (0: no oedema).
    gamma_range, bias_amplitude, noise_fraction
        Follow-up contrast change (intensity power law), bias field peak deviation (fraction),
        noise SD (fraction of the 99th-percentile intensity). ``gamma_range=(1, 1)``,
        ``bias_amplitude=0`` gives the same contrast.
    """
    rng = np.random.default_rng(seed)
    a32 = sitk.Cast(anatomy, sitk.sitkFloat32)
    arr = sitk.GetArrayFromImage(a32)
    ref_level = float(np.percentile(arr[sitk.GetArrayViewFromImage(brain_mask) > 0], 99))
    bm = sitk.GetArrayViewFromImage(brain_mask) > 0
    if lesion_center_lps is None:
        dist_in = sitk.GetArrayFromImage(
            sitk.SignedMaurerDistanceMap(brain_mask, insideIsPositive=True, squaredDistance=False, useImageSpacing=True)
        )
        cand = np.argwhere((dist_in >= 25.0) & bm)
        if len(cand) == 0:
            cand = np.argwhere(dist_in >= np.max(dist_in) * 0.6)
        centre = physical_points(anatomy, cand[rng.integers(len(cand))][None, :])[0]
    else:
        centre = np.asarray(lesion_center_lps, dtype=float)
    r0, r1 = lesion_radius_mm
    amp = float(mass_effect_mm) if mass_effect_mm is not None else float(rng.uniform(0.6, 1.0) * max_mass_effect_mm)
    sigma = max(edema_radius_mm, r1 + 4.0)

    # Planning: anatomy + small enhancing lesion.
    dist_p = _distance_image(anatomy, centre)
    plan = arr.copy()
    plan[dist_p <= r0] = 1.3 * ref_level
    planning = sitk.GetImageFromArray(plan.astype(np.float32))
    planning.CopyInformation(anatomy)
    plan_lesion = sitk.GetImageFromArray((dist_p <= r0).astype(np.uint8))
    plan_lesion.CopyInformation(anatomy)

    # Follow-up anatomy in the planning frame (mass effect, grown lesion, oedema).
    field_img = mass_effect_field(anatomy, center_lps=centre, amplitude_mm=amp, sigma_mm=sigma)
    pull = sitk.DisplacementFieldTransform(sitk.Image(field_img))
    warped = sitk.GetArrayFromImage(sitk.Resample(a32, anatomy, pull, sitk.sitkLinear, 0.0, sitk.sitkFloat32))
    if edema_radius_mm > 0:
        ed = dist_p <= edema_radius_mm
        warped[ed] = warped[ed] * 0.72
    core, rim = dist_p <= r1 - 2.5, (dist_p <= r1) & (dist_p > r1 - 2.5)
    warped[core] = 0.35 * ref_level
    warped[rim] = 1.3 * ref_level
    fu_anat = sitk.GetImageFromArray(warped.astype(np.float32))
    fu_anat.CopyInformation(anatomy)
    fu_lesion_anat = sitk.GetImageFromArray((dist_p <= max(edema_radius_mm, r1)).astype(np.uint8))
    fu_lesion_anat.CopyInformation(anatomy)

    # Rigid motion about the image centre.
    size = np.asarray(anatomy.GetSize(), dtype=float)
    image_centre = np.asarray(anatomy.TransformContinuousIndexToPhysicalPoint(tuple((size - 1) / 2)))
    rigid = sitk.Euler3DTransform()
    rigid.SetCenter(tuple(image_centre))
    angles = np.deg2rad(rng.uniform(-1, 1, 3) * max_rotation_deg)
    rigid.SetRotation(*angles)
    rigid.SetTranslation(tuple(rng.uniform(-1, 1, 3) * max_translation_mm))
    rinv = rigid.GetInverse()
    generator = sitk.CompositeTransform([pull, rinv])  # y -> w(R^-1 y)

    fu = sitk.GetArrayFromImage(sitk.Resample(fu_anat, anatomy, rinv, sitk.sitkLinear, 0.0, sitk.sitkFloat32))
    gamma = float(rng.uniform(*gamma_range))
    fu = ref_level * np.power(np.clip(fu, 0, None) / ref_level, gamma)
    dist_c = _distance_image(anatomy, image_centre) / 100.0
    idx = np.argwhere(np.ones(fu.shape, dtype=bool))
    rel = (physical_points(anatomy, idx) - image_centre) / 100.0
    coeff = rng.uniform(-1, 1, 3)
    bias = np.exp(bias_amplitude * (rel @ coeff / np.sqrt(3)).reshape(fu.shape) + 0.5 * bias_amplitude * (dist_c**2 - 0.3))
    fu = fu * bias + rng.normal(0.0, noise_fraction * ref_level, fu.shape)
    followup = sitk.GetImageFromArray(np.clip(fu, 0, None).astype(np.float32))
    followup.CopyInformation(anatomy)
    fu_lesion = sitk.Resample(fu_lesion_anat, anatomy, rinv, sitk.sitkNearestNeighbor, 0, sitk.sitkUInt8)

    return SyntheticPair(
        planning=planning,
        followup=followup,
        generator=generator,
        brain_mask=sitk.Cast(brain_mask > 0, sitk.sitkUInt8),
        followup_lesion_mask=fu_lesion,
        planning_lesion_mask=plan_lesion,
        lesion_center_lps=centre,
        lesion_radius_mm=float(r1),
        edema_radius_mm=float(edema_radius_mm),
        rigid=rigid,
        parameters={
            "seed": seed,
            "rotation_deg": np.rad2deg(angles).round(3).tolist(),
            "translation_mm": np.round(rigid.GetTranslation(), 3).tolist(),
            "mass_effect_mm": round(amp, 3),
            "mass_effect_sigma_mm": sigma,
            "gamma": round(gamma, 3),
            "bias_amplitude": bias_amplitude,
            "noise_fraction": noise_fraction,
        },
    )


def target_registration_error(
    pair: SyntheticPair,
    transform: sitk.Transform,
    *,
    step_mm: float = 3.0,
    near_mm: float = 30.0,
) -> dict[str, dict[str, float]]:
    """TRE (mm) of an estimated planning → follow-up ``transform`` against the pair's truth.

    Follow-up points ``y`` on a ``step_mm`` lattice are mapped to planning points ``p = G(y)``; the
    error is ``|transform(p) - y|``. Regions (planning frame): ``brain`` = brain mask; ``near`` =
    brain within ``near_mm`` of the lesion surface, excluding the lesion and oedema themselves
    (their intensities changed, no registration can see correspondence there); ``lesion`` = inside
    the oedema sphere (reported for information).

    Returns
    -------
    dict
        ``{region: {"mean": mm, "p95": mm, "max": mm, "n": count}}``.
    """
    fu = pair.followup
    size = np.asarray(fu.GetSize())
    step = np.maximum(1, np.round(step_mm / np.asarray(fu.GetSpacing())).astype(int))
    axes = [np.arange(0, size[i], step[i]) for i in range(3)]
    zz, yy, xx = np.meshgrid(axes[2], axes[1], axes[0], indexing="ij")
    idx = np.stack([zz.ravel(), yy.ravel(), xx.ravel()], axis=1)
    ys = physical_points(fu, idx)
    gen = pair.generator
    ps = np.array([gen.TransformPoint(tuple(y)) for y in ys])
    cidx = np.round(
        np.asarray([pair.brain_mask.TransformPhysicalPointToContinuousIndex(tuple(p)) for p in ps])
    ).astype(int)
    bsize = np.asarray(pair.brain_mask.GetSize())
    inside = np.all((cidx >= 0) & (cidx < bsize), axis=1)
    barr = sitk.GetArrayViewFromImage(pair.brain_mask)
    in_brain = np.zeros(len(ps), dtype=bool)
    ci = cidx[inside]
    in_brain[inside] = barr[ci[:, 2], ci[:, 1], ci[:, 0]] > 0
    d = np.linalg.norm(ps - pair.lesion_center_lps, axis=1)
    excl = max(pair.edema_radius_mm, pair.lesion_radius_mm)
    regions = {
        "brain": in_brain,
        "near": in_brain & (d > excl) & (d <= pair.lesion_radius_mm + near_mm),
        "lesion": in_brain & (d <= excl),
    }
    out: dict[str, dict[str, float]] = {}
    keep = np.flatnonzero(in_brain)
    est = np.array([transform.TransformPoint(tuple(p)) for p in ps[keep]])
    err_all = np.full(len(ps), np.nan)
    err_all[keep] = np.linalg.norm(est - ys[keep], axis=1)
    for name, sel in regions.items():
        e = err_all[sel]
        if e.size == 0:
            out[name] = {"mean": float("nan"), "p95": float("nan"), "max": float("nan"), "n": 0}
        else:
            out[name] = {
                "mean": float(np.mean(e)),
                "p95": float(np.percentile(e, 95)),
                "max": float(np.max(e)),
                "n": int(e.size),
            }
    return out


__all__ = ["SyntheticPair", "synthetic_head", "mass_effect_field", "make_pair", "target_registration_error"]
