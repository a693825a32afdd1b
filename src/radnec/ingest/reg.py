"""Read DICOM Spatial Registration and Deformable Spatial Registration objects into transforms.

A REG object registers one or more *source* frames of reference into its own frame (the registered
RCS, PS3.3 C.20.2/C.20.3). radnec turns it into the project's convention: a transform ``T`` mapping a
PLANNING (fixed) point, LPS mm, to the FOLLOW-UP (moving) point, ready for
``sitk.Resample(followup, planning_grid, T)``.

* Spatial Registration: item matrices ``M_f`` (planning → registered) and ``M_m`` (follow-up →
  registered) give ``T = M_m⁻¹ · M_f`` (either frame may be the registered one, matrix identity or
  absent).
* Deformable Spatial Registration: registered frame must be the planning frame and the source the
  follow-up frame; with pre-deformation matrix ``Pre`` (source → registered), vectors ``v`` on a
  registered-frame grid and post-deformation matrix ``Post``, radnec reads
  ``T = Pre⁻¹ ∘ (x ↦ x + v(x)) ∘ Post⁻¹`` — the pull-back convention radnec writes
  (:mod:`radnec.fuse.dicom_reg`).
"""

from __future__ import annotations

from dataclasses import dataclass, field
from os import PathLike
from pathlib import Path

import numpy as np
import pydicom
import SimpleITK as sitk
from pydicom.dataset import Dataset
from pydicom.errors import InvalidDicomError

from radnec.errors import FrameOfReferenceError, InputError, RegistrationError

SPATIAL_REGISTRATION_SOP_CLASS = "1.2.840.10008.5.1.4.1.1.66.1"
DEFORMABLE_REGISTRATION_SOP_CLASS = "1.2.840.10008.5.1.4.1.1.66.3"
#: Matrix types radnec accepts as rigid (PS3.3 C.20.2.1.1); AFFINE is refused (scaling/shear).
RIGID_TYPES = ("RIGID", "RIGID_SCALE")


@dataclass
class DeformableItem:
    """One item of a DeformableRegistrationSequence."""

    source_frame_uid: str
    pre_matrix: np.ndarray
    post_matrix: np.ndarray
    #: the vector grid as a sitkVectorFloat64 image (mm, registered frame), or None if absent.
    field: sitk.Image | None


@dataclass
class Registration:
    """A DICOM REG object, parsed."""

    path: str | None
    kind: str  # "spatial" | "deformable"
    frame_uid: str  # registered RCS
    #: frame UID → 4×4 matrix mapping that frame into the registered frame (spatial REG).
    matrices: dict[str, np.ndarray] = field(default_factory=dict)
    matrix_types: dict[str, str] = field(default_factory=dict)
    deformable: list[DeformableItem] = field(default_factory=list)
    referenced_series_uids: list[str] = field(default_factory=list)

    @property
    def frame_uids(self) -> set[str]:
        """Every frame of reference the object links (registered and sources)."""
        return {self.frame_uid, *self.matrices, *(d.source_frame_uid for d in self.deformable)}


def _matrix(item: Dataset, *, where: str, path: str | None) -> tuple[np.ndarray, str]:
    try:
        values = [float(v) for v in item.FrameOfReferenceTransformationMatrix]
    except AttributeError as exc:
        raise InputError(f"{where} has no FrameOfReferenceTransformationMatrix", path=path) from exc
    if len(values) != 16:
        raise InputError(f"{where}: FrameOfReferenceTransformationMatrix has {len(values)} values, need 16", path=path)
    m = np.asarray(values).reshape(4, 4)
    if not np.allclose(m[3], [0, 0, 0, 1], atol=1e-6):
        raise InputError(f"{where}: the last matrix row is {m[3].tolist()}, expected [0, 0, 0, 1]", path=path)
    return m, str(item.get("FrameOfReferenceTransformationMatrixType", "RIGID"))


def _grid(item: Dataset, *, path: str | None) -> sitk.Image:
    try:
        dims = [int(v) for v in item.GridDimensions]
        res = [float(v) for v in item.GridResolution]
        pos = [float(v) for v in item.ImagePositionPatient]
        iop = np.asarray([float(v) for v in item.ImageOrientationPatient])
        raw = item.VectorGridData
    except AttributeError as exc:
        raise InputError(f"DeformableRegistrationGridSequence lacks {exc.name or exc}", path=path) from exc
    n = int(np.prod(dims)) * 3
    data = np.frombuffer(raw, dtype="<f4")
    if data.size != n:
        raise InputError(f"VectorGridData has {data.size} floats, expected {n} for grid {dims}", path=path)
    row, col = iop[:3], iop[3:]
    direction = np.column_stack([row, col, np.cross(row, col)])
    img = sitk.GetImageFromArray(data.reshape(dims[2], dims[1], dims[0], 3).astype(np.float64), isVector=True)
    img.SetOrigin(pos)
    img.SetSpacing(res)
    img.SetDirection(tuple(direction.ravel()))
    return img


def read_registration(source: str | PathLike[str] | Dataset) -> Registration:
    """Parse a Spatial or Deformable Spatial Registration file (or dataset).

    Raises
    ------
    InputError
        Not DICOM, not a REG object, or malformed matrices / grids (the message names the file).
    """
    path = None
    if isinstance(source, Dataset):
        ds = source
    else:
        path = str(source)
        try:
            ds = pydicom.dcmread(path)
        except (InvalidDicomError, OSError) as exc:
            raise InputError(f"not a readable DICOM file ({exc})", path=path) from exc
    sop = str(ds.get("SOPClassUID", ""))
    frame = str(ds.get("FrameOfReferenceUID", ""))
    if not frame:
        raise InputError("the REG object has no FrameOfReferenceUID (registered frame)", path=path)
    series = [
        str(s.SeriesInstanceUID)
        for study in ds.get("StudiesContainingOtherReferencedInstancesSequence", [])
        for s in study.get("ReferencedSeriesSequence", [])
    ] + [str(s.SeriesInstanceUID) for s in ds.get("ReferencedSeriesSequence", []) if "SeriesInstanceUID" in s]
    if sop == SPATIAL_REGISTRATION_SOP_CLASS:
        reg = Registration(path=path, kind="spatial", frame_uid=frame, referenced_series_uids=series)
        for i, item in enumerate(ds.get("RegistrationSequence", [])):
            uid = str(item.get("FrameOfReferenceUID", ""))
            if not uid:
                raise InputError(f"RegistrationSequence item {i + 1} has no FrameOfReferenceUID", path=path)
            m = np.eye(4)
            kinds = []
            for mreg in item.get("MatrixRegistrationSequence", []):
                for mitem in mreg.get("MatrixSequence", []):
                    mi, kind = _matrix(mitem, where=f"RegistrationSequence item {i + 1}", path=path)
                    # Several matrices in a MatrixSequence are applied in order (PS3.3 C.20.2.1.1).
                    m = mi @ m
                    kinds.append(kind)
            reg.matrices[uid] = m
            reg.matrix_types[uid] = "RIGID" if all(k in RIGID_TYPES for k in kinds) else ",".join(kinds)
        if not reg.matrices:
            raise InputError("the Spatial Registration has an empty RegistrationSequence", path=path)
        return reg
    if sop == DEFORMABLE_REGISTRATION_SOP_CLASS:
        reg = Registration(path=path, kind="deformable", frame_uid=frame, referenced_series_uids=series)
        for i, item in enumerate(ds.get("DeformableRegistrationSequence", [])):
            where = f"DeformableRegistrationSequence item {i + 1}"
            pre = np.eye(4)
            post = np.eye(4)
            if item.get("PreDeformationMatrixRegistrationSequence"):
                pre, _ = _matrix(item.PreDeformationMatrixRegistrationSequence[0], where=where + " pre-deformation", path=path)
            if item.get("PostDeformationMatrixRegistrationSequence"):
                post, _ = _matrix(item.PostDeformationMatrixRegistrationSequence[0], where=where + " post-deformation", path=path)
            grid = None
            if item.get("DeformableRegistrationGridSequence"):
                grid = _grid(item.DeformableRegistrationGridSequence[0], path=path)
            uid = str(item.get("SourceFrameOfReferenceUID", ""))
            if not uid:
                raise InputError(f"{where} has no SourceFrameOfReferenceUID", path=path)
            reg.deformable.append(DeformableItem(uid, pre, post, grid))
        if not reg.deformable:
            raise InputError("the Deformable Spatial Registration has an empty DeformableRegistrationSequence", path=path)
        return reg
    raise InputError(
        f"not a registration object (SOP Class {sop or 'missing'}); expected Spatial Registration "
        f"{SPATIAL_REGISTRATION_SOP_CLASS} or Deformable Spatial Registration {DEFORMABLE_REGISTRATION_SOP_CLASS}",
        path=path,
    )


def _affine(m: np.ndarray) -> sitk.AffineTransform:
    tx = sitk.AffineTransform(3)
    tx.SetMatrix(tuple(m[:3, :3].ravel()))
    tx.SetTranslation(tuple(m[:3, 3]))
    return tx


def _frame_matrix(reg: Registration, uid: str) -> np.ndarray:
    if uid in reg.matrices:
        return reg.matrices[uid]
    if uid == reg.frame_uid:
        return np.eye(4)
    raise FrameOfReferenceError(
        f"the registration does not link frame {uid} (it links {sorted(reg.frame_uids)})", path=reg.path
    )


def rigid_transform(reg: Registration, *, fixed_frame_uid: str, moving_frame_uid: str) -> sitk.Euler3DTransform:
    """The planning → follow-up rigid transform ``T = M_m⁻¹ · M_f`` of a Spatial Registration.

    Raises
    ------
    FrameOfReferenceError
        The object does not link both frames.
    RegistrationError
        A matrix is not rigid (AFFINE with scaling or shear).
    """
    from radnec.geometry import rigid_from_matrix

    if reg.kind != "spatial":
        raise RegistrationError("this is a Deformable Spatial Registration; use deformable_transform", path=reg.path)
    mf = _frame_matrix(reg, fixed_frame_uid)
    mm = _frame_matrix(reg, moving_frame_uid)
    try:
        return rigid_from_matrix(np.linalg.inv(mm) @ mf)
    except RegistrationError as exc:
        raise RegistrationError(f"{exc.message}; radnec uses only rigid DICOM registrations", path=reg.path) from exc


def deformable_transform(reg: Registration, *, fixed_frame_uid: str, moving_frame_uid: str) -> sitk.Transform:
    """The planning → follow-up transform ``Pre⁻¹ ∘ (id + v) ∘ Post⁻¹`` of a Deformable Spatial
    Registration whose registered frame is the planning frame and whose source is the follow-up.

    Raises
    ------
    FrameOfReferenceError
        The frames do not match (an inverse deformable direction is not supported: it would need a
        field inversion; ask for the registration the other way round).
    """
    if reg.kind != "deformable":
        raise RegistrationError("this is a (rigid) Spatial Registration; use rigid_transform", path=reg.path)
    if reg.frame_uid != fixed_frame_uid:
        raise FrameOfReferenceError(
            f"the deformable registration's registered frame is {reg.frame_uid}, not the planning frame "
            f"{fixed_frame_uid}; radnec reads follow-up → planning deformations only",
            path=reg.path,
        )
    for item in reg.deformable:
        if item.source_frame_uid == moving_frame_uid:
            parts: list[sitk.Transform] = [_affine(np.linalg.inv(item.pre_matrix))]
            if item.field is not None:
                parts.append(sitk.DisplacementFieldTransform(sitk.Image(item.field)))
            parts.append(_affine(np.linalg.inv(item.post_matrix)))
            return sitk.CompositeTransform(parts)
    raise FrameOfReferenceError(
        f"no deformable item has the follow-up frame {moving_frame_uid} as source "
        f"(sources: {[d.source_frame_uid for d in reg.deformable]})",
        path=reg.path,
    )


def read_transform(
    path: str | PathLike[str], *, fixed_frame_uid: str, moving_frame_uid: str
) -> sitk.Transform:
    """Read a REG file straight into the planning → follow-up transform (rigid or deformable)."""
    reg = read_registration(Path(path))
    if reg.kind == "spatial":
        return rigid_transform(reg, fixed_frame_uid=fixed_frame_uid, moving_frame_uid=moving_frame_uid)
    return deformable_transform(reg, fixed_frame_uid=fixed_frame_uid, moving_frame_uid=moving_frame_uid)


__all__ = [
    "SPATIAL_REGISTRATION_SOP_CLASS",
    "DEFORMABLE_REGISTRATION_SOP_CLASS",
    "Registration",
    "DeformableItem",
    "read_registration",
    "rigid_transform",
    "deformable_transform",
    "read_transform",
]
