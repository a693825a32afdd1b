"""Anatomy of the phantom: the vendored MNI152 2009a template on an axial LPS grid.

The template (T1 and grey/white-matter probability maps) is stored cropped as RAS NIfTI in
``radnec/phantom/data``; SimpleITK reads it in LPS. It is resampled onto an axial grid with
identity direction cosines (rows along +x = patient left, columns along +y = posterior,
slices along +z = superior), the grid every planning study of the phantom uses.
"""

from __future__ import annotations

from dataclasses import dataclass
from functools import lru_cache
from importlib import resources

import numpy as np
import SimpleITK as sitk
from scipy import ndimage

from radnec.errors import InputError
from radnec.phantom.config import load_config

#: Template files in ``radnec/phantom/data`` (see PROVENANCE.md there).
TEMPLATE_FILES = {
    "t1": "mni152_2009a_t1.nii.gz",
    "gm": "mni152_2009a_gm.nii.gz",
    "wm": "mni152_2009a_wm.nii.gz",
}
#: Template T1 value (0..255) above which a voxel belongs to the head-stripped brain volume.
BRAIN_T1_THRESHOLD = 20


@dataclass(frozen=True)
class Anatomy:
    """Tissue maps of the template on the planning grid (all float32 images share one grid).

    Attributes
    ----------
    grid
        Reference image (uint8 zeros) defining the planning grid (LPS, identity direction).
    t1
        Template T1 intensity, 0..1.
    gm, wm, csf
        Tissue probabilities 0..1.
    brain
        Brain mask (uint8 0/1; per axial slice hole-free so its contours are never nested).
    brainstem
        Approximate brainstem mask (uint8 0/1).
    """

    grid: sitk.Image
    t1: sitk.Image
    gm: sitk.Image
    wm: sitk.Image
    csf: sitk.Image
    brain: sitk.Image
    brainstem: sitk.Image


@lru_cache(maxsize=1)
def _read_template() -> dict[str, sitk.Image]:
    out = {}
    folder = resources.files("radnec.phantom").joinpath("data")
    for key, name in TEMPLATE_FILES.items():
        with resources.as_file(folder.joinpath(name)) as path:
            if not path.exists():
                raise InputError(f"phantom template file {path} is missing; reinstall radnec")
            out[key] = sitk.Cast(sitk.ReadImage(str(path)), sitk.sitkFloat32) / 255.0
    return out


def planning_grid(voxel_mm: float) -> sitk.Image:
    """Axial LPS grid (identity direction) covering the template at ``voxel_mm`` spacing (mm)."""
    if not (0.3 <= voxel_mm <= 5.0):
        raise InputError(f"voxel size {voxel_mm} mm is outside 0.3-5 mm; use e.g. --voxel-mm 1.0")
    t1 = _read_template()["t1"]
    size = np.array(t1.GetSize())
    corners = np.array(
        [t1.TransformContinuousIndexToPhysicalPoint([float(c) for c in (i, j, k)])
         for i in (-0.5, size[0] - 0.5) for j in (-0.5, size[1] - 0.5) for k in (-0.5, size[2] - 0.5)]
    )
    lo, hi = corners.min(0), corners.max(0)
    n = np.ceil((hi - lo) / voxel_mm).astype(int)
    origin = lo + voxel_mm / 2.0
    grid = sitk.Image([int(v) for v in n], sitk.sitkUInt8)
    grid.SetOrigin([float(v) for v in origin])
    grid.SetSpacing([float(voxel_mm)] * 3)
    grid.SetDirection(np.eye(3).ravel().tolist())
    return grid


def _fill_slices(mask: np.ndarray) -> np.ndarray:
    out = np.empty_like(mask)
    for k in range(mask.shape[0]):
        out[k] = ndimage.binary_fill_holes(mask[k])
    return out


def _to_image(arr: np.ndarray, grid: sitk.Image, pixel=sitk.sitkFloat32) -> sitk.Image:
    img = sitk.GetImageFromArray(arr)
    img.CopyInformation(grid)
    return sitk.Cast(img, pixel) if img.GetPixelID() != pixel else img


@lru_cache(maxsize=4)
def build_anatomy(voxel_mm: float = 1.0) -> Anatomy:
    """Template tissue maps, brain and brainstem masks on the planning grid.

    Parameters
    ----------
    voxel_mm
        Isotropic voxel size of the planning grid in mm.
    """
    grid = planning_grid(voxel_mm)
    tpl = _read_template()
    res = {
        k: sitk.Resample(v, grid, sitk.Transform(), sitk.sitkLinear, 0.0, sitk.sitkFloat32)
        for k, v in tpl.items()
    }
    t1 = sitk.GetArrayFromImage(res["t1"])
    gm = sitk.GetArrayFromImage(res["gm"])
    wm = sitk.GetArrayFromImage(res["wm"])
    brain = t1 > BRAIN_T1_THRESHOLD / 255.0
    brain = ndimage.binary_closing(brain, iterations=2)
    labels, n = ndimage.label(brain)
    if n > 1:
        sizes = ndimage.sum(brain, labels, range(1, n + 1))
        brain = labels == (1 + int(np.argmax(sizes)))
    brain = _fill_slices(brain)
    csf = np.clip(brain.astype(np.float32) - gm - wm, 0.0, 1.0)
    # approximate brainstem: ellipsoid in MNI space intersected with the brain
    cfg = load_config()["anatomy"]["brainstem_ellipsoid"]
    pts = physical_axes(grid)
    c = np.array(cfg["centre"]); r = np.array(cfg["radii"])
    q = ((pts[2] - c[0]) / r[0]) ** 2 + ((pts[1] - c[1]) / r[1]) ** 2 + ((pts[0] - c[2]) / r[2]) ** 2
    stem = (q <= 1.0) & brain & ((gm + wm) > 0.5)
    stem = _fill_slices(stem)
    return Anatomy(
        grid=grid,
        t1=_to_image(t1.astype(np.float32), grid),
        gm=_to_image(gm.astype(np.float32), grid),
        wm=_to_image(wm.astype(np.float32), grid),
        csf=_to_image(csf.astype(np.float32), grid),
        brain=_to_image(brain.astype(np.uint8), grid, sitk.sitkUInt8),
        brainstem=_to_image(stem.astype(np.uint8), grid, sitk.sitkUInt8),
    )


def physical_axes(grid: sitk.Image) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Broadcastable (z, y, x) physical coordinate arrays (mm) of an identity-direction grid,
    in numpy (k, j, i) order: returns (z[k,1,1], y[1,j,1], x[1,1,i])."""
    o = np.array(grid.GetOrigin()); s = np.array(grid.GetSpacing()); n = grid.GetSize()
    x = (o[0] + s[0] * np.arange(n[0])).reshape(1, 1, -1)
    y = (o[1] + s[1] * np.arange(n[1])).reshape(1, -1, 1)
    z = (o[2] + s[2] * np.arange(n[2])).reshape(-1, 1, 1)
    return z.astype(np.float32), y.astype(np.float32), x.astype(np.float32)
