"""True planning → follow-up geometry: a rigid repositioning and a radial mass effect.

Convention (project-wide): the truth transform ``T`` maps a point of the PLANNING frame (LPS mm)
to the point of the same anatomy in the FOLLOW-UP frame, so ``sitk.Resample(followup,
planning_grid, T)`` brings a follow-up image onto the planning grid. Here

``T(x) = R(M(x))``

where ``M`` is a mass-effect push centred on the lesion (planning coordinates) and ``R`` a rigid
transform (patient repositioning in the scanner). ``M`` is radial, ``M(x) = c + (x - c)
rho(r)/r`` with ``r = |x - c|`` and ``rho(r) = r + u(r)``, ``u(r) = A k (r/Rs)^2 (1 - r/Rs)^4`` for
``r < Rs`` (zero beyond; C3-smooth at ``Rs``; zero slope at the centre so the lesion core is
not inflated), ``k`` chosen so that ``max u = A`` (at ``r = Rs/3``). ``rho`` must be strictly
increasing (checked numerically: ``min rho' >= 0.2``), so ``M`` is a diffeomorphism whose inverse is radial too and is obtained exactly by 1-D interpolation of
``rho``. Both ``M`` and ``M^-1`` are sampled as displacement fields on a lattice around ``c``.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import SimpleITK as sitk

from radnec.errors import GeometryError

#: peak of q^2 (1-q)^4 is at q = 1/3; k normalises the peak of u to A.
_PEAK_Q = 1.0 / 3.0
_K = 1.0 / (_PEAK_Q**2 * (1.0 - _PEAK_Q) ** 4)
_Q = np.linspace(0.0, 1.0, 10001)
#: minimum over q of d/dq [q^2 (1-q)^4] (negative), evaluated numerically.
_MIN_SLOPE = float(-np.min(np.gradient(_Q**2 * (1 - _Q) ** 4, _Q)))
_MIN_RHO_SLOPE = 0.2
_TABLE_POINTS = 20001


@dataclass(frozen=True)
class MassEffect:
    """Radial push (all in mm, planning coordinates)."""

    centre: tuple[float, float, float]
    amplitude_mm: float
    support_mm: float

    def __post_init__(self) -> None:
        if self.amplitude_mm < 0 or self.support_mm <= 0:
            raise GeometryError("mass effect needs amplitude >= 0 and support > 0 (mm)")
        if 1.0 - _K * self.amplitude_mm / self.support_mm * _MIN_SLOPE < _MIN_RHO_SLOPE:
            raise GeometryError(
                f"mass effect of {self.amplitude_mm} mm over {self.support_mm} mm would fold; "
                "reduce the amplitude or enlarge the support"
            )

    def u(self, r: np.ndarray) -> np.ndarray:
        """Radial displacement (mm) at distance ``r`` (mm) from the centre."""
        q = np.clip(np.asarray(r, dtype=np.float64) / self.support_mm, 0.0, 1.0)
        return self.amplitude_mm * _K * q**2 * (1.0 - q) ** 4

    def _table(self) -> tuple[np.ndarray, np.ndarray]:
        r = np.linspace(0.0, self.support_mm, _TABLE_POINTS)
        return r, r + self.u(r)

    def forward_points(self, pts: np.ndarray) -> np.ndarray:
        """Apply ``M`` to an (N, 3) array of planning points (mm)."""
        c = np.asarray(self.centre)
        v = pts - c
        r = np.linalg.norm(v, axis=-1, keepdims=True)
        scale = np.where(r > 0, (r + self.u(r)) / np.where(r > 0, r, 1.0), 1.0)
        return c + v * scale

    def inverse_points(self, pts: np.ndarray) -> np.ndarray:
        """Apply ``M^-1`` to an (N, 3) array of points (mm)."""
        c = np.asarray(self.centre)
        v = pts - c
        rp = np.linalg.norm(v, axis=-1, keepdims=True)
        r_tab, rho_tab = self._table()
        r = np.where(rp < self.support_mm, np.interp(rp, rho_tab, r_tab), rp)
        scale = np.where(rp > 0, r / np.where(rp > 0, rp, 1.0), 1.0)
        return c + v * scale

    def field(self, *, inverse: bool, spacing_mm: float) -> sitk.Image:
        """Displacement field (sitkVectorFloat64) of ``M`` (or ``M^-1``) on a lattice covering the
        support; zero on its border, and ITK treats points outside as not displaced."""
        c = np.asarray(self.centre)
        half = self.support_mm + 2 * spacing_mm
        n = int(np.ceil(2 * half / spacing_mm)) + 1
        origin = c - (n - 1) / 2.0 * spacing_mm
        ax = origin[None, :] + spacing_mm * np.arange(n)[:, None]
        zz, yy, xx = np.meshgrid(ax[:, 2], ax[:, 1], ax[:, 0], indexing="ij")
        pts = np.stack([xx, yy, zz], axis=-1).reshape(-1, 3)
        mapped = self.inverse_points(pts) if inverse else self.forward_points(pts)
        disp = (mapped - pts).reshape(n, n, n, 3)
        img = sitk.GetImageFromArray(disp.astype(np.float64), isVector=True)
        img.SetOrigin([float(v) for v in origin])
        img.SetSpacing([float(spacing_mm)] * 3)
        return img


def rigid_transform(
    rng: np.random.Generator,
    *,
    centre: np.ndarray,
    min_deg: float,
    max_deg: float,
    min_mm: float,
    max_mm: float,
) -> sitk.Euler3DTransform:
    """Random rigid transform: rotation about a random axis through ``centre`` by an angle in
    [min_deg, max_deg] and a translation of length in [min_mm, max_mm] in a random direction."""
    axis = rng.normal(size=3)
    axis /= np.linalg.norm(axis)
    angle = np.deg2rad(rng.uniform(min_deg, max_deg))
    direction = rng.normal(size=3)
    direction /= np.linalg.norm(direction)
    translation = direction * rng.uniform(min_mm, max_mm)
    vr = sitk.VersorRigid3DTransform()
    vr.SetCenter([float(v) for v in centre])
    vr.SetRotation([float(v) for v in axis], float(angle))
    vr.SetTranslation([float(v) for v in translation])
    eul = sitk.Euler3DTransform()
    eul.SetCenter([float(v) for v in centre])
    eul.SetMatrix(vr.GetMatrix())
    eul.SetTranslation(vr.GetTranslation())
    return eul


def rotation_angle_deg(tx: sitk.Euler3DTransform) -> float:
    """Rotation angle (degrees) of a rigid transform."""
    m = np.array(tx.GetMatrix()).reshape(3, 3)
    return float(np.rad2deg(np.arccos(np.clip((np.trace(m) - 1.0) / 2.0, -1.0, 1.0))))


def planning_to_followup(rigid: sitk.Euler3DTransform, mass: MassEffect, *, spacing_mm: float) -> sitk.CompositeTransform:
    """``T = R ∘ M`` (planning → follow-up). SimpleITK applies the last added transform first."""
    comp = sitk.CompositeTransform(3)
    comp.AddTransform(sitk.Euler3DTransform(rigid))
    comp.AddTransform(sitk.DisplacementFieldTransform(mass.field(inverse=False, spacing_mm=spacing_mm)))
    return comp


def followup_to_planning(rigid: sitk.Euler3DTransform, mass: MassEffect, *, spacing_mm: float) -> sitk.CompositeTransform:
    """``T^-1 = M^-1 ∘ R^-1`` (follow-up → planning): the transform used to synthesise a
    follow-up image by resampling planning-frame content onto the follow-up grid."""
    comp = sitk.CompositeTransform(3)
    comp.AddTransform(sitk.DisplacementFieldTransform(mass.field(inverse=True, spacing_mm=spacing_mm)))
    comp.AddTransform(rigid.GetInverse())
    return comp


def rigid_points(tx: sitk.Euler3DTransform, pts: np.ndarray) -> np.ndarray:
    """Apply a rigid (matrix/centre/translation) transform to an (N, 3) array (mm)."""
    a = np.array(tx.GetMatrix()).reshape(3, 3)
    c = np.array(tx.GetCenter())
    t = np.array(tx.GetTranslation())
    return (pts - c) @ a.T + c + t


def followup_points_to_planning(rigid: sitk.Euler3DTransform, mass: MassEffect, pts: np.ndarray) -> np.ndarray:
    """Exact ``T^-1(y) = M^-1(R^-1(y))`` for an (N, 3) array of follow-up points (mm); only
    points within the support of ``M`` go through the radial inversion."""
    x = rigid_points(rigid.GetInverse(), pts)
    c = np.asarray(mass.centre)
    near = np.flatnonzero(((x - c) ** 2).sum(1) < mass.support_mm**2)
    if near.size:
        x[near] = mass.inverse_points(x[near])
    return x
