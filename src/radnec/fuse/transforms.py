"""The fusion result: transforms, how they were obtained, their quality; save/load; apply.

Convention (project-wide): ``FusionResult.transform`` maps a PLANNING (fixed) point, LPS mm, to the
corresponding FOLLOW-UP (moving) point. It is ``R`` (rigid) or ``R ∘ D`` (rigid after a planning-frame
displacement field restricted to a box around the lesion). Apply it with :func:`apply_to_image`
(linear), :func:`apply_to_mask` (label-preserving or nearest) and :func:`apply_to_dose` (linear) to
bring follow-up data onto a planning-frame grid.

On disk (a folder): ``rigid.tfm`` (ITK text), ``deformation.h5`` (ITK HDF5 displacement field, only
when deformable) and ``fusion.json`` (method, parameters, quality, frame UIDs, file names).
"""

from __future__ import annotations

import json
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np
import SimpleITK as sitk

from radnec.errors import InputError

#: Version of the fusion.json layout.
FUSION_JSON_VERSION = 1


@dataclass
class FusionResult:
    """Result of fusing one follow-up series to the planning frame.

    Attributes
    ----------
    rigid
        Planning → follow-up rigid transform (Euler3D; identity when both share a frame).
    deformation
        Planning-frame displacement field transform ``D`` (``T = R ∘ D``), or None (rigid only).
    method
        How the result was obtained: ``"registered-rigid"``, ``"registered-rigid+deformable"``,
        ``"same-frame-verified"``, ``"dicom-reg"`` (+ ``"+deformable"``).
    parameters
        The settings used (JSON-safe).
    quality
        Quality metrics and the ``poor_quality`` flag (see :mod:`radnec.fuse.quality`).
    fixed_frame_uid, moving_frame_uid
        DICOM FrameOfReferenceUIDs when known.
    """

    rigid: sitk.Transform
    deformation: sitk.DisplacementFieldTransform | None = None
    method: str = "registered-rigid"
    parameters: dict[str, Any] = field(default_factory=dict)
    quality: dict[str, Any] = field(default_factory=dict)
    fixed_frame_uid: str | None = None
    moving_frame_uid: str | None = None
    warnings: list[str] = field(default_factory=list)

    @property
    def transform(self) -> sitk.Transform:
        """The full planning → follow-up transform (``R`` or ``R ∘ D``)."""
        if self.deformation is None:
            return self.rigid
        return sitk.CompositeTransform([self.rigid, self.deformation])

    @property
    def poor_quality(self) -> bool:
        """True when any quality check failed (see ``quality["failed_checks"]``)."""
        return bool(self.quality.get("poor_quality", False))

    def to_json(self) -> dict[str, Any]:
        """JSON-safe summary (no transform parameters beyond the rigid matrix)."""
        from radnec.fuse.rigid import matrix_of

        return {
            "version": FUSION_JSON_VERSION,
            "convention": "T maps planning (fixed) LPS mm -> follow-up (moving) LPS mm; T = R o D",
            "method": self.method,
            "fixed_frame_uid": self.fixed_frame_uid,
            "moving_frame_uid": self.moving_frame_uid,
            "rigid_matrix": np.round(matrix_of(self.rigid), 9).tolist(),
            "deformable": self.deformation is not None,
            "parameters": self.parameters,
            "quality": self.quality,
            "warnings": list(self.warnings),
        }


def save(result: FusionResult, folder: str | Path) -> Path:
    """Write ``result`` to ``folder`` (created): rigid.tfm, deformation.h5 (if any), fusion.json.

    Returns the path of ``fusion.json``.
    """
    from radnec.jsonio import dumps

    out = Path(folder)
    out.mkdir(parents=True, exist_ok=True)
    sitk.WriteTransform(result.rigid, str(out / "rigid.tfm"))
    meta = result.to_json()
    meta["files"] = {"rigid": "rigid.tfm"}
    if result.deformation is not None:
        sitk.WriteTransform(result.deformation, str(out / "deformation.h5"))
        meta["files"]["deformation"] = "deformation.h5"
    path = out / "fusion.json"
    path.write_text(dumps(meta) + "\n", encoding="utf-8")
    return path


def load(folder: str | Path) -> FusionResult:
    """Read a result written by :func:`save`. Raises :class:`InputError` on a missing or invalid file."""
    folder = Path(folder)
    path = folder / "fusion.json" if folder.is_dir() else folder
    folder = path.parent
    try:
        meta = json.loads(path.read_text(encoding="utf-8"))
    except FileNotFoundError as exc:
        raise InputError("no fusion.json here; run `radnec fuse` first", path=path) from exc
    except json.JSONDecodeError as exc:
        raise InputError(f"fusion.json is not valid JSON ({exc.msg} at line {exc.lineno})", path=path) from exc
    if meta.get("version") != FUSION_JSON_VERSION:
        raise InputError(f"fusion.json version {meta.get('version')!r} is not supported (expected {FUSION_JSON_VERSION})", path=path)
    files = meta.get("files", {})
    try:
        rigid = _read_transform(folder / files["rigid"])
        deformation = None
        if "deformation" in files:
            deformation = sitk.DisplacementFieldTransform(_read_transform(folder / files["deformation"]))
    except KeyError as exc:
        raise InputError(f"fusion.json lacks the file entry {exc}", path=path) from exc
    return FusionResult(
        rigid=rigid,
        deformation=deformation,
        method=meta.get("method", "unknown"),
        parameters=meta.get("parameters", {}),
        quality=meta.get("quality", {}),
        fixed_frame_uid=meta.get("fixed_frame_uid"),
        moving_frame_uid=meta.get("moving_frame_uid"),
        warnings=list(meta.get("warnings", [])),
    )


def _read_transform(path: Path) -> sitk.Transform:
    if not path.exists():
        raise InputError("transform file is missing", path=path)
    try:
        tx = sitk.ReadTransform(str(path))
    except RuntimeError as exc:
        raise InputError(f"cannot read the transform ({str(exc).strip().splitlines()[-1]})", path=path) from exc
    # ReadTransform wraps single transforms in a composite in some versions; unwrap.
    if isinstance(tx, sitk.CompositeTransform) and tx.GetNumberOfTransforms() == 1:
        tx = tx.GetNthTransform(0)
    name = tx.GetName()
    if name == "Euler3DTransform":
        return sitk.Euler3DTransform(tx)
    if name == "DisplacementFieldTransform":
        return sitk.DisplacementFieldTransform(tx)
    return tx


def _as_transform(transform: FusionResult | sitk.Transform) -> sitk.Transform:
    return transform.transform if isinstance(transform, FusionResult) else transform


def apply_to_image(
    transform: FusionResult | sitk.Transform,
    moving: sitk.Image,
    reference: sitk.Image,
    *,
    default_value: float = 0.0,
) -> sitk.Image:
    """Resample a follow-up image onto the planning-frame grid ``reference`` (linear interpolation,
    float32 output)."""
    return sitk.Resample(
        sitk.Cast(moving, sitk.sitkFloat32), reference, _as_transform(transform), sitk.sitkLinear, default_value, sitk.sitkFloat32
    )


def apply_to_mask(
    transform: FusionResult | sitk.Transform,
    mask: sitk.Image,
    reference: sitk.Image,
    *,
    method: str = "label",
) -> sitk.Image:
    """Resample a follow-up mask or label map onto the planning-frame grid ``reference``.

    Parameters
    ----------
    method
        ``"label"`` (default): label-preserving — each label's 0/1 indicator is resampled linearly and
        every output voxel takes the label with the largest weight if that weight is ≥ 0.5 (this keeps
        volumes and thin structures better than nearest neighbour on a coarser or rotated grid);
        ``"nearest"``: nearest neighbour.

    Returns
    -------
    SimpleITK.Image
        sitkUInt8 label image on ``reference``'s grid (0/1 for a mask).
    """
    tx = _as_transform(transform)
    m = sitk.Cast(mask, sitk.sitkUInt8)
    if method == "nearest":
        return sitk.Resample(m, reference, tx, sitk.sitkNearestNeighbor, 0, sitk.sitkUInt8)
    if method != "label":
        raise ValueError(f"method must be 'label' or 'nearest', got {method!r}")
    labels = [int(v) for v in np.unique(sitk.GetArrayViewFromImage(m)) if v != 0]
    size = reference.GetSize()[::-1]
    best = np.full(size, 0.5, dtype=np.float32)
    out = np.zeros(size, dtype=np.uint8)
    for lab in labels:
        ind = sitk.Cast(m == lab, sitk.sitkFloat32)
        w = sitk.GetArrayFromImage(sitk.Resample(ind, reference, tx, sitk.sitkLinear, 0.0, sitk.sitkFloat32))
        take = w >= best
        out[take] = lab
        best[take] = w[take]
    img = sitk.GetImageFromArray(out)
    img.CopyInformation(reference)
    return img


def apply_to_dose(
    transform: FusionResult | sitk.Transform,
    dose: sitk.Image,
    reference: sitk.Image,
) -> sitk.Image:
    """Resample a dose grid (Gy) given in the FOLLOW-UP frame onto ``reference`` with linear
    interpolation (float64 output, 0 Gy outside). Planning dose is already in the planning frame:
    to put it on a follow-up grid use the inverse mapping (dose side keeps the lesion → dose grid
    direction instead, see the common brief)."""
    return sitk.Resample(sitk.Cast(dose, sitk.sitkFloat64), reference, _as_transform(transform), sitk.sitkLinear, 0.0, sitk.sitkFloat64)


def displacement_at(transform: FusionResult | sitk.Transform, points_lps: np.ndarray) -> np.ndarray:
    """Mapped points ``T(p)`` (LPS mm, shape ``(n, 3)``) for planning points ``p``."""
    tx = _as_transform(transform)
    pts = np.asarray(points_lps, dtype=float).reshape(-1, 3)
    return np.array([tx.TransformPoint(tuple(p)) for p in pts])


def require_rigid(transform: sitk.Transform) -> sitk.Euler3DTransform:
    """``transform`` as an Euler3DTransform; raises :class:`RegistrationError` if it is not rigid."""
    from radnec.fuse.rigid import matrix_of
    from radnec.geometry import rigid_from_matrix

    return rigid_from_matrix(matrix_of(transform))


__all__ = [
    "FUSION_JSON_VERSION",
    "FusionResult",
    "save",
    "load",
    "apply_to_image",
    "apply_to_mask",
    "apply_to_dose",
    "displacement_at",
    "require_rigid",
]
