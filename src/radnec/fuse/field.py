"""The tail shared by both deformable engines: from a raw displacement to the transform radnec keeps.

Inside the excluded holes (lesion + oedema) the displacement is replaced by a smooth (harmonic)
interpolation of the displacement around it; the field is put on a ``field_spacing_mm`` grid over the
box (:func:`field_grid`) and tapered to zero over the outer ``taper_mm`` of the box
(:func:`tapered_transform`), so ``T = R ∘ D`` stays continuous and ``D`` is the identity outside.
"""

from __future__ import annotations

import numpy as np
import SimpleITK as sitk

from radnec.fuse.region import fill_smooth


def harmonic_fill(field: np.ndarray, hole: np.ndarray, spacing_zyx: tuple[float, ...]) -> np.ndarray | None:
    """Harmonic (Laplace) interpolation of a vector field ``(Z, Y, X, 3)`` inside ``hole``, with
    the field outside the hole as Dirichlet boundary values (Neumann at the array border).

    The smoothest interpolant: continuous at the hole's edge and without interior extrema, so it
    cannot fold where the surrounding field does not. None when a hole component touches no known
    voxel (the system is singular) or the solver does not converge.
    """
    from scipy.sparse import coo_matrix, diags
    from scipy.sparse.linalg import cg

    coords = np.argwhere(hole)
    n = len(coords)
    index = np.full(hole.shape, -1, dtype=np.int64)
    index[hole] = np.arange(n)
    diag = np.zeros(n)
    rhs = np.zeros((n, field.shape[-1]))
    rows, cols, vals = [], [], []
    for axis, h in enumerate(spacing_zyx):
        w = 1.0 / float(h) ** 2
        for step in (-1, 1):
            nb = coords.copy()
            nb[:, axis] += step
            ok = (nb[:, axis] >= 0) & (nb[:, axis] < hole.shape[axis])
            src = np.nonzero(ok)[0]
            nb = nb[ok]
            diag[src] += w
            j = index[tuple(nb.T)]
            unknown = j >= 0
            rows.append(src[unknown])
            cols.append(j[unknown])
            vals.append(np.full(int(unknown.sum()), -w))
            known = ~unknown
            rhs[src[known]] += w * field[tuple(nb[known].T)]
    a = (coo_matrix((np.concatenate(vals), (np.concatenate(rows), np.concatenate(cols))), shape=(n, n)) + diags(diag)).tocsr()
    out = field.copy()
    for c in range(field.shape[-1]):
        x, info = cg(a, rhs[:, c], rtol=1e-8, maxiter=5000)
        if info != 0 or not np.all(np.isfinite(x)):
            return None
        out[..., c][hole] = x
    return out


def inpaint_field(field: np.ndarray, hole: np.ndarray, spacing_zyx: tuple[float, ...], *, sigma_mm: float) -> np.ndarray:
    """Inside ``hole`` (the masked lesion + oedema), replace the displacement by a smooth
    interpolation of the displacement around it: the lesion's own motion is unknowable, its
    surroundings' is not. Harmonic interpolation (:func:`harmonic_fill`); a normalised Gaussian
    convolution (``sigma_mm``) only if that fails. The convolution alone decays towards zero deep
    inside a large hole (hemisphere-scale oedema), which put displacement jumps of ~5 mm between
    neighbouring 2 mm voxels at the hole's edge and folded the field (det(J) <= 0)."""
    if not hole.any():
        return field
    harmonic = harmonic_fill(field, hole, spacing_zyx)
    if harmonic is not None:
        return harmonic
    out = field.copy()
    for c in range(3):
        out[..., c] = fill_smooth(field[..., c], hole, spacing_zyx, sigma_mm=sigma_mm)
    return out


def taper_weights(field_ref: sitk.Image, taper_mm: float) -> np.ndarray:
    """Weights 0 at the box border rising to 1 at ``taper_mm`` inside (cosine ramp), per axis product."""
    size = np.asarray(field_ref.GetSize())
    sp = np.asarray(field_ref.GetSpacing())
    weights = []
    for ax in range(3):
        pos = np.arange(size[ax]) * sp[ax]
        d = np.minimum(pos, pos[-1] - pos)
        w = np.clip(d / taper_mm, 0.0, 1.0) if taper_mm > 0 else np.ones_like(d)
        weights.append(0.5 - 0.5 * np.cos(np.pi * w))
    wz, wy, wx = weights[2], weights[1], weights[0]
    return wz[:, None, None] * wy[None, :, None] * wx[None, None, :]


def field_grid(box: sitk.Image, field_spacing_mm: float) -> sitk.Image:
    """The output grid of a displacement field over ``box``: same origin and direction, isotropic
    ``field_spacing_mm`` spacing, at least 2 points per axis, not beyond the box's last voxel."""
    phys = [s * sp for s, sp in zip(box.GetSize(), box.GetSpacing())]
    fsize = [max(2, int(np.floor((p - sp) / field_spacing_mm)) + 1) for p, sp in zip(phys, box.GetSpacing())]
    ref = sitk.Image(fsize, sitk.sitkUInt8)
    ref.SetOrigin(box.GetOrigin())
    ref.SetSpacing((field_spacing_mm,) * 3)
    ref.SetDirection(box.GetDirection())
    return ref


def tapered_transform(field: sitk.Image, taper_mm: float) -> sitk.DisplacementFieldTransform:
    """``field`` (vector image, mm) multiplied by :func:`taper_weights` as a displacement-field transform."""
    arr = sitk.GetArrayFromImage(field) * taper_weights(field, taper_mm)[..., None]
    out = sitk.GetImageFromArray(arr, isVector=True)
    out.CopyInformation(field)
    return sitk.DisplacementFieldTransform(out)


__all__ = ["harmonic_fill", "inpaint_field", "taper_weights", "field_grid", "tapered_transform"]
