"""Exact save/load of the values stages hand on: images, masks, lesion compartments, fusion results.

Images are kept as ``.npz`` (pixels + origin/spacing/direction as float64), not NIfTI or MetaImage:
both of those round geometry through text or float32, and a reloaded image must equal the computed
one bit for bit (see :mod:`radnec.pipeline.workspace`). Exports for other programs (NIfTI, DICOM)
live in :mod:`radnec.export`.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import numpy as np
import SimpleITK as sitk

from radnec.errors import InputError

#: Pixel types kept as they are (others are refused rather than silently converted).
_PIXEL_TYPES = {
    sitk.sitkUInt8: np.uint8,
    sitk.sitkInt8: np.int8,
    sitk.sitkUInt16: np.uint16,
    sitk.sitkInt16: np.int16,
    sitk.sitkUInt32: np.uint32,
    sitk.sitkInt32: np.int32,
    sitk.sitkFloat32: np.float32,
    sitk.sitkFloat64: np.float64,
    sitk.sitkVectorFloat32: np.float32,
    sitk.sitkVectorFloat64: np.float64,
}


def save_image(image: sitk.Image, path: Path) -> None:
    """Write a 3-D image exactly (pixels, pixel type, vector components and geometry) to ``path`` (.npz)."""
    if image.GetPixelID() not in _PIXEL_TYPES:
        raise TypeError(f"pixel type {image.GetPixelIDTypeAsString()} is not saved by the workspace")
    with open(path, "wb") as fh:
        np.savez(
            fh,
            pixels=sitk.GetArrayViewFromImage(image),
            origin=np.asarray(image.GetOrigin(), float),
            spacing=np.asarray(image.GetSpacing(), float),
            direction=np.asarray(image.GetDirection(), float),
            vector=np.asarray(image.GetNumberOfComponentsPerPixel() > 1),
        )


def load_image(path: Path) -> sitk.Image:
    """Read an image written by :func:`save_image`."""
    with np.load(path) as data:
        image = sitk.GetImageFromArray(data["pixels"], isVector=bool(data["vector"]))
        image.SetOrigin(tuple(float(v) for v in data["origin"]))
        image.SetSpacing(tuple(float(v) for v in data["spacing"]))
        image.SetDirection(tuple(float(v) for v in data["direction"]))
    return image


def load_optional_image(path: Path) -> sitk.Image | None:
    return load_image(path) if path.exists() else None


def save_json(data: Any, path: Path) -> None:
    """Deterministic JSON (floats as Python's shortest exact repr)."""
    from radnec.jsonio import dumps

    path.write_text(dumps(data) + "\n", encoding="utf-8")


def load_json(path: Path) -> Any:
    return json.loads(path.read_text(encoding="utf-8"))


def save_compartments(comps: Any, folder: Path) -> None:
    """Save a :class:`radnec.lesion.labels.Compartments` (masks + source + notes)."""
    folder.mkdir(parents=True, exist_ok=True)
    for name, mask in comps.masks().items():
        save_image(mask, folder / f"{name}.npz")
    save_json({"source": comps.source, "notes": list(comps.notes)}, folder / "compartments.json")


def load_compartments(folder: Path) -> Any:
    from radnec.lesion.labels import COMPARTMENTS, Compartments

    meta = load_json(folder / "compartments.json")
    masks = {name: load_optional_image(folder / f"{name}.npz") for name in COMPARTMENTS}
    lesion = masks.pop("lesion")
    if lesion is None:
        raise InputError("saved lesion compartments lack the lesion mask", path=folder)
    return Compartments(lesion, **masks, source=meta["source"], notes=list(meta["notes"]))  # type: ignore[arg-type]


def save_fusion(result: Any, folder: Path) -> None:
    """Save a :class:`radnec.fuse.transforms.FusionResult`: the rigid parameters as exact JSON, the
    displacement field (if any) as an exact image."""
    folder.mkdir(parents=True, exist_ok=True)
    rigid = result.rigid
    meta = {
        "rigid": {
            "name": rigid.GetName(),
            "parameters": list(rigid.GetParameters()),
            "fixed_parameters": list(rigid.GetFixedParameters()),
        },
        "method": result.method,
        "parameters": result.parameters,
        "quality": result.quality,
        "fixed_frame_uid": result.fixed_frame_uid,
        "moving_frame_uid": result.moving_frame_uid,
        "warnings": list(result.warnings),
        "deformable": result.deformation is not None,
    }
    if result.deformation is not None:
        field_image = result.deformation.GetDisplacementField()
        save_image(field_image, folder / "displacement.npz")
    save_json(meta, folder / "fusion.json")


def _rigid_from(meta: dict[str, Any]) -> sitk.Transform:
    name = meta["name"]
    if name == "Euler3DTransform":
        tx: sitk.Transform = sitk.Euler3DTransform()
    elif name == "VersorRigid3DTransform":
        tx = sitk.VersorRigid3DTransform()
    elif name in ("AffineTransform", "AffineTransform_double_3_3"):
        tx = sitk.AffineTransform(3)
    elif name == "IdentityTransform":
        return sitk.Transform(3, sitk.sitkIdentity)
    elif name == "TranslationTransform":
        tx = sitk.TranslationTransform(3)
    else:
        raise TypeError(f"cannot restore a rigid transform of type {name}")
    tx.SetFixedParameters(tuple(meta["fixed_parameters"]))
    tx.SetParameters(tuple(meta["parameters"]))
    return tx


def load_fusion(folder: Path) -> Any:
    from radnec.fuse.transforms import FusionResult

    meta = load_json(folder / "fusion.json")
    deformation = None
    if meta["deformable"]:
        field_image = load_image(folder / "displacement.npz")
        deformation = sitk.DisplacementFieldTransform(field_image)
    return FusionResult(
        rigid=_rigid_from(meta["rigid"]),
        deformation=deformation,
        method=meta["method"],
        parameters=meta["parameters"],
        quality=meta["quality"],
        fixed_frame_uid=meta["fixed_frame_uid"],
        moving_frame_uid=meta["moving_frame_uid"],
        warnings=list(meta["warnings"]),
    )


__all__ = [
    "load_compartments",
    "load_fusion",
    "load_image",
    "load_json",
    "load_optional_image",
    "save_compartments",
    "save_fusion",
    "save_image",
    "save_json",
]
