"""Follow-up studies as a hospital's routine protocol writes them (``radnec phantom --protocol clinical-2d``).

Each follow-up study holds, with Siemens, GE or Philips names and tags (chosen by the seed, see
``protocols.yaml``): a 3-plane localiser (ImageType …\\LOCALIZER), axial 2-D T1 post-contrast
(0.9 mm in-plane, 5 mm slices with a 1 mm gap), the same without contrast, axial 2-D T2 and FLAIR,
DWI (b = 0 and 1000 s/mm², ``DiffusionBValue``) with its derived ADC map and, at some follow-ups,
a sagittal 3-D post-contrast T1 (isotropic, at ``--voxel-mm``) with its axial MPR reformat
(ImageType DERIVED\\SECONDARY). ``ContrastBolusAgent`` is set on post-contrast series only. One
follow-up may have its axials tilted 5–15° about the left-right axis (AC-PC alignment); the
geometry (ImageOrientationPatient, ImagePositionPatient) is exact.

Thick slices are made by averaging the noise-free follow-up image over each slab
(``slab_samples`` point samples across the slice thickness: partial volume, not point
sampling); noise and a bias field are added afterwards, as the scanner would.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from functools import lru_cache
from typing import Any

import numpy as np
import SimpleITK as sitk

from radnec.datafiles import load_yaml
from radnec.phantom.contrast import MAX_UINT, acquire

#: Follow-up protocols: ``research-3d`` (3-D T1c + FLAIR) and ``clinical-2d`` (routine 2-D protocol).
PROTOCOLS = ("research-3d", "clinical-2d")
#: When a clinical-2d follow-up also has a sagittal 3-D post-contrast T1 (and when one is oblique).
SAG3D = ("never", "some", "always")
#: Direction matrices (columns: row direction, column direction, normal; LPS).
SAGITTAL = np.array([[0.0, 0.0, -1.0], [1.0, 0.0, 0.0], [0.0, -1.0, 0.0]])
CORONAL = np.array([[1.0, 0.0, 0.0], [0.0, 0.0, 1.0], [0.0, -1.0, 0.0]])


@lru_cache(maxsize=1)
def load_protocols() -> dict[str, Any]:
    """The parsed ``protocols.yaml`` (cached)."""
    return load_yaml("radnec.phantom", "protocols.yaml")


@dataclass
class Series:
    """One series of a clinical-2d follow-up.

    Attributes
    ----------
    key
        ``localizer``, ``t1c_2d``, ``t1_2d``, ``t2_2d``, ``flair_2d``, ``dwi``, ``adc``, ``t1c_sag3d`` or ``t1c_mpr``.
    stacks
        uint16 images (one per b-value for DWI, one per plane for the localiser), any orientation.
    tags
        DICOM keywords → values for every instance (description, ImageType, sequence, contrast …).
    stack_tags
        Extra keywords per stack (``DiffusionBValue``).
    """

    key: str
    stacks: list[sitk.Image]
    tags: dict[str, Any]
    stack_tags: list[dict[str, Any]] = field(default_factory=list)


def tilt_x(deg: float) -> np.ndarray:
    """Direction matrix of an axial stack tilted by ``deg`` about the patient's left-right axis."""
    t = np.deg2rad(deg)
    return np.array([[1.0, 0.0, 0.0], [0.0, np.cos(t), -np.sin(t)], [0.0, np.sin(t), np.cos(t)]])


def stack_grid(*, centre_lps: np.ndarray, direction: np.ndarray, spacing: tuple[float, float, float],
               size: tuple[int, int, int], first_offset_mm: float | None = None) -> sitk.Image:
    """A uint8 reference grid of ``size`` (columns, rows, slices) with ``direction`` (columns are the
    row/column/normal directions), centred on ``centre_lps`` in-plane; along the normal the first
    slice sits at ``first_offset_mm`` from the centre (default: centred)."""
    sp = np.asarray(spacing, dtype=float)
    n = np.asarray(size, dtype=float)
    half = (n - 1) * sp / 2.0
    if first_offset_mm is not None:
        half[2] = -first_offset_mm
    origin = np.asarray(centre_lps, dtype=float) - direction @ half
    g = sitk.Image([int(v) for v in size], sitk.sitkUInt8)
    g.SetSpacing([float(v) for v in sp])
    g.SetDirection([float(v) for v in direction.ravel()])
    g.SetOrigin([float(v) for v in origin])
    return g


def slab_average(image: sitk.Image, grid: sitk.Image, *, thickness_mm: float, samples: int) -> np.ndarray:
    """Mean of ``samples`` point samples spread evenly across each slice's slab (mm thickness) along
    the grid normal: the partial-volume signal of a thick 2-D slice (float32, z, y, x)."""
    d = np.array(grid.GetDirection()).reshape(3, 3)
    normal = d[:, 2]
    acc = np.zeros(grid.GetSize()[::-1], dtype=np.float32)
    for k in range(samples):
        off = (k + 0.5) / samples * thickness_mm - thickness_mm / 2.0
        g = sitk.Image(grid)
        g.SetOrigin([float(v) for v in np.array(grid.GetOrigin()) + off * normal])
        acc += sitk.GetArrayFromImage(sitk.Resample(image, g, sitk.Transform(), sitk.sitkLinear, 0.0, sitk.sitkFloat32))
    return acc / np.float32(samples)


def _img(arr: np.ndarray, grid: sitk.Image) -> sitk.Image:
    out = sitk.GetImageFromArray(np.clip(np.rint(arr), 0, MAX_UINT).astype(np.uint16))
    out.CopyInformation(grid)
    return out


def plan_protocol(rng: np.random.Generator, *, n_followups: int, sag3d: str, oblique: str = "some") -> dict[str, Any]:
    """Vendor, contrast agent, which follow-ups (1-based) get a sagittal 3-D T1c (``sag3d``) and
    which have oblique axials (``oblique``: ``some`` = at most one, by the seed), chosen by the seed."""
    cfg = load_protocols()
    vendors = sorted(cfg["vendors"])
    vendor = vendors[int(rng.integers(len(vendors)))]
    agent = cfg["contrast_agents"][int(rng.integers(len(cfg["contrast_agents"])))]
    if sag3d == "always":
        with3d = set(range(1, n_followups + 1))
    elif sag3d == "never":
        with3d = set()
    else:
        flags = rng.random(n_followups) < 0.5
        if n_followups >= 2 and flags.all():
            flags[int(rng.integers(n_followups))] = False
        if n_followups >= 2 and not flags.any():
            flags[int(rng.integers(n_followups))] = True
        with3d = {int(i) + 1 for i in np.flatnonzero(flags)}
    pick = int(rng.integers(1, n_followups + 1)) if rng.random() < 0.5 else None
    tilted = {"never": set(), "always": set(range(1, n_followups + 1))}.get(oblique, {pick} - {None})
    lo, hi = cfg["geometry"]["oblique_tilt_deg"]
    tilt = float(rng.uniform(lo, hi)) * (1 if rng.random() < 0.5 else -1)
    suffix = None
    if vendor == "siemens":
        alts = cfg["vendors"]["siemens"]["post_suffix_alternatives"]
        suffix = alts[int(rng.integers(len(alts)))]
    return {"vendor": vendor, "agent": agent, "sag3d": with3d, "oblique": tilted, "tilt_deg": tilt,
            "siemens_post_suffix": suffix}


def _tags(plan: dict[str, Any], key: str, *, post: bool, acquisition: str) -> dict[str, Any]:
    cfg = load_protocols()
    v = cfg["vendors"][plan["vendor"]]
    s = v["series"][key]
    desc = s["description"]
    if plan["siemens_post_suffix"] and "_KM" in desc:
        desc = desc.replace("_KM", plan["siemens_post_suffix"])
    tags: dict[str, Any] = {
        "Manufacturer": v["manufacturer"], "ManufacturerModelName": v["model"],
        "SeriesDescription": desc, "ProtocolName": desc, "ImageType": list(s["image_type"]),
        "ScanningSequence": s["scanning"], "SequenceVariant": s["variant"], "MRAcquisitionType": acquisition,
        "RepetitionTime": s["tr"], "EchoTime": s["te"], "FlipAngle": s["flip"],
    }
    if "ti" in s:
        tags["InversionTime"] = s["ti"]
    if post:
        tags["ContrastBolusAgent"] = plan["agent"]
    return tags


def followup_series(plan: dict[str, Any], fu: int, *, images: dict[str, sitk.Image], centre_lps: np.ndarray,
                    voxel_mm: float, rng: np.random.Generator, noise_fraction: float,
                    bias_amplitude: float) -> tuple[list[Series], dict[str, Any]]:
    """The routine series of follow-up ``fu`` (1-based) from its noise-free follow-up-frame images
    (``T1c``, ``T1``, ``T2``, ``FLAIR``, ``ADC``: float32 SimpleITK images on the follow-up grid).

    Returns the series and the geometry facts for ``truth.json`` (tilt, slice spacing, …)."""
    g = load_protocols()["geometry"]

    def scan(signal: np.ndarray) -> np.ndarray:  # the scanner's bias field and Rician noise
        return acquire(signal, rng=rng, noise_fraction=noise_fraction, bias_amplitude=bias_amplitude).astype(np.float32)

    tilt = plan["tilt_deg"] if fu in plan["oblique"] else 0.0
    axial = tilt_x(tilt)
    thick, gap = g["slice_thickness_mm"], g["slice_gap_mm"]
    step = thick + gap
    lo, hi = g["coverage_mm"]
    n_sl = int(np.floor((hi - lo) / step)) + 1

    def axial_grid(px: float) -> sitk.Image:
        n = int(round(g["fov_mm"] / px))
        return stack_grid(centre_lps=centre_lps, direction=axial, spacing=(px, px, step), size=(n, n, n_sl),
                          first_offset_mm=lo)

    out: list[Series] = []
    # localiser: three single planes through the brain centre (point sampled)
    lpx = g["localizer_in_plane_mm"] * voxel_mm
    nl = int(round(g["localizer_fov_mm"] / lpx))
    planes = []
    for d in (np.eye(3), SAGITTAL, CORONAL):
        lg = stack_grid(centre_lps=centre_lps, direction=d, spacing=(lpx, lpx, 8.0), size=(nl, nl, 1))
        a = sitk.GetArrayFromImage(sitk.Resample(images["T1"], lg, sitk.Transform(), sitk.sitkLinear, 0.0, sitk.sitkFloat32))
        planes.append(_img(scan(a), lg))
    out.append(Series("localizer", planes, _tags(plan, "localizer", post=False, acquisition="2D")))
    px = g["in_plane_mm"] * voxel_mm
    ag = axial_grid(px)
    for key, src, post in (("t1c_2d", "T1c", True), ("t1_2d", "T1", False), ("t2_2d", "T2", False),
                           ("flair_2d", "FLAIR", False)):
        a = slab_average(images[src], ag, thickness_mm=thick, samples=g["slab_samples"])
        tags = _tags(plan, key, post=post, acquisition="2D")
        tags.update(SliceThickness=thick, SpacingBetweenSlices=step)
        out.append(Series(key, [_img(scan(a), ag)], tags))
    dg = axial_grid(g["dwi_in_plane_mm"] * voxel_mm)
    b0 = slab_average(images["T2"], dg, thickness_mm=thick, samples=g["slab_samples"])
    adc_true = slab_average(images["ADC"], dg, thickness_mm=thick, samples=g["slab_samples"])
    stacks, btags = [], []
    noisy = {}
    for b in load_protocols()["b_values"]:
        sig = b0 * np.exp(-b * adc_true * 1e-6)
        noisy[b] = scan(sig)
        stacks.append(_img(noisy[b], dg))
        btags.append({"DiffusionBValue": float(b)})
    tags = _tags(plan, "dwi", post=False, acquisition="2D")
    tags.update(SliceThickness=thick, SpacingBetweenSlices=step)
    out.append(Series("dwi", stacks, tags, btags))
    b_hi = max(noisy)
    head = noisy[0] > g["adc_background_fraction"] * float(np.percentile(noisy[0], 99))  # scanners blank the background
    with np.errstate(divide="ignore", invalid="ignore"):
        adc = np.where(head & (noisy[b_hi] > 0), -np.log(noisy[b_hi] / np.maximum(noisy[0], 1.0)) / b_hi * 1e6, 0.0)
    tags = _tags(plan, "adc", post=False, acquisition="2D")
    tags.update(SliceThickness=thick, SpacingBetweenSlices=step)
    out.append(Series("adc", [_img(np.nan_to_num(adc), dg)], tags))
    if fu in plan["sag3d"]:
        fov_p, fov_s = g["sag3d_fov_mm"]
        half = g["sag3d_half_width_mm"]
        sg = stack_grid(centre_lps=centre_lps, direction=SAGITTAL, spacing=(voxel_mm,) * 3,
                        size=(int(round(fov_p / voxel_mm)), int(round(fov_s / voxel_mm)), int(round(2 * half / voxel_mm)) + 1))
        a = sitk.GetArrayFromImage(sitk.Resample(images["T1c"], sg, sitk.Transform(), sitk.sitkLinear, 0.0, sitk.sitkFloat32))
        sag = _img(scan(a), sg)
        tags = _tags(plan, "t1c_sag3d", post=True, acquisition="3D")
        tags.update(SliceThickness=voxel_mm, SpacingBetweenSlices=voxel_mm)
        out.append(Series("t1c_sag3d", [sag], tags))
        mpr_step = g["mpr_slice_mm"]
        n = int(round(fov_p / voxel_mm))
        mg = stack_grid(centre_lps=centre_lps, direction=np.eye(3), spacing=(voxel_mm, voxel_mm, mpr_step),
                        size=(n, n, int(np.floor((hi - lo) / mpr_step)) + 1), first_offset_mm=lo)
        mpr = sitk.Resample(sag, mg, sitk.Transform(), sitk.sitkLinear, 0.0, sitk.sitkUInt16)
        tags = _tags(plan, "t1c_mpr", post=True, acquisition="3D")
        tags.update(SliceThickness=mpr_step, SpacingBetweenSlices=mpr_step)
        out.append(Series("t1c_mpr", [mpr], tags))
    facts = {"vendor": plan["vendor"], "contrast_agent": plan["agent"], "axial_tilt_deg": tilt,
             "oblique": tilt != 0.0, "in_plane_mm": px, "slice_thickness_mm": thick,
             "spacing_between_slices_mm": step, "sagittal_3d": fu in plan["sag3d"]}
    return out, facts


__all__ = ["PROTOCOLS", "SAG3D", "Series", "load_protocols", "plan_protocol", "followup_series", "slab_average",
           "stack_grid", "tilt_x"]


def routine_series(plan: dict[str, Any], fu: int, *, tissue: dict[str, np.ndarray], pm: dict[str, np.ndarray],
                   followup: dict[str, np.ndarray], grid: sitk.Image, fgrid: sitk.Image, rigid, mass, centre_lps: np.ndarray,
                   voxel_mm: float, rng: np.random.Generator, fu_cfg: dict) -> tuple[list[Series], dict[str, Any]]:
    """Routine series of follow-up ``fu``: the pre-contrast T1, T2 and ADC of the planning-frame
    truth (``pm``) are brought into the follow-up frame like the T1c and FLAIR (``followup``,
    float32 arrays on ``fgrid``), then cut into the protocol's series (:func:`followup_series`)."""
    from radnec.phantom.contrast import routine_images
    from radnec.phantom.resampling import to_followup

    t1pre, t2, adc = routine_images(**tissue, enhancing=pm["enhancing"], core=pm["necrotic"], edema=pm["edema"])
    r = to_followup([t1pre, t2, adc], [0.0, 0.0, 0.0], grid=grid, fgrid=fgrid, rigid=rigid, mass=mass)
    images = {}
    for name, arr in (("T1c", followup["T1c"]), ("FLAIR", followup["FLAIR"]), ("T1", r[0]), ("T2", r[1]), ("ADC", r[2])):
        im = sitk.GetImageFromArray(arr.astype(np.float32, copy=False))
        im.CopyInformation(fgrid)
        images[name] = im
    return followup_series(plan, fu, images=images, centre_lps=centre_lps, voxel_mm=voxel_mm, rng=rng,
                           noise_fraction=fu_cfg["noise_fraction"], bias_amplitude=fu_cfg["bias_amplitude"])
