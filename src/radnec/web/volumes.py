"""The viewer's image data: what the last analysis saved, as gzipped NIfTI on the planning T1c grid.

The web app computes no analysis number: every volume here is read from the case's analysis folder and
its workspace (:func:`radnec.pipeline.run.saved_state`) and resampled onto the planning T1c grid with
the saved registrations (the same ``Resample(follow-up, planning grid, transform)`` the report's
pictures use). Written once per analysis state into ``OUT/.radnec/viewer/<key>/`` (the key is the
SHA-256 of ``analysis.json`` and the workspace manifest, so a seed re-run or a new clinical file makes
a new set and a second page load reads files):

=====================  ===========================================================================
``t1c-<i>.nii.gz``     T1c of time point *i* (0 = planning, 1… = follow-ups fused onto the planning grid)
``dose.nii.gz``        the plan dose (Gy) on the planning grid (0 outside the dose grid)
``isodose-<j>.nii.gz`` lesion *j*'s isodose lines: label *k* on the 3-D edge of dose ≥ ``levels[k-1]``
``structures.nii.gz``  contours of the plan's GTVs (label 1) and PTVs (label 2)
``lesion-<i>.nii.gz``  every lesion's contour at time point *i* (label = lesion index + 1)
``checker-<i>.nii.gz`` planning / follow-up *i* checkerboard (10 mm squares) for judging the fusion
``index.json``         the catalogue: time points, lesions, isodose levels, file names
=====================  ===========================================================================

Frames
------
radnec works in DICOM LPS mm; NIfTI's affine maps voxel indices to RAS mm. The conversion happens
here and only here (:func:`nifti_affine`, :func:`ras_to_lps`): ``RAS = diag(-1, -1, 1) · LPS``, with
the voxel axes kept in the image's own (i, j, k) order. The viewer's world coordinates are therefore
the planning frame in RAS; :func:`map_point` turns one into LPS mm in the planning frame and in each
follow-up's own frame through its saved registration.
"""

from __future__ import annotations

import hashlib
import json
import os
import shutil
import threading
import uuid
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np
import SimpleITK as sitk

from radnec.errors import InputError

#: Bump when the files written here change (a new key, so old sets are not served).
FORMAT_VERSION = 1
#: Isodose lines, % of the lesion's target prescription, and absolute levels (Gy).
ISODOSE_PCT = (100.0, 80.0, 50.0)
ISODOSE_ABS_GY = (12.0,)
#: Side of the checkerboard squares (mm).
CHECKER_MM = 10.0
#: Name of the folder (inside the workspace) holding the viewer's files.
VIEWER_DIRNAME = "viewer"

_LPS_TO_RAS = np.diag([-1.0, -1.0, 1.0])
_locks: dict[str, threading.Lock] = {}
_locks_guard = threading.Lock()


def nifti_affine(image: sitk.Image) -> np.ndarray:
    """The 4×4 NIfTI (RAS mm) affine of a SimpleITK image (LPS mm), voxel axes in (i, j, k) order.

    ``affine @ [i, j, k, 1] = [RAS mm, 1]`` where the SimpleITK index (i, j, k) maps to the LPS point
    ``origin + direction · diag(spacing) · (i, j, k)``.
    """
    direction = np.asarray(image.GetDirection(), float).reshape(3, 3)
    spacing = np.asarray(image.GetSpacing(), float)
    origin = np.asarray(image.GetOrigin(), float)
    affine = np.eye(4)
    affine[:3, :3] = _LPS_TO_RAS @ direction @ np.diag(spacing)
    affine[:3, 3] = _LPS_TO_RAS @ origin
    return affine


def ras_to_lps(point_ras: Sequence[float]) -> np.ndarray:
    """A point in RAS mm (the viewer's world) → LPS mm (same frame, DICOM's convention)."""
    return _LPS_TO_RAS @ np.asarray(point_ras, float)


def lps_to_ras(point_lps: Sequence[float]) -> np.ndarray:
    """A point in LPS mm → RAS mm (the same frame)."""
    return _LPS_TO_RAS @ np.asarray(point_lps, float)


def to_nifti(image: sitk.Image, *, dtype: Any) -> Any:
    """A ``nibabel.Nifti1Image`` of a 3-D SimpleITK image (LPS → RAS affine, scanner frame).

    Float data stored as ``int16`` get NIfTI's ``scl_slope``/``scl_inter`` (nibabel picks them), so the
    viewer reads back the values in their units (Gy for the dose).
    """
    import nibabel as nib

    data = np.asarray(sitk.GetArrayViewFromImage(image)).transpose(2, 1, 0)  # SimpleITK's [k, j, i] → [i, j, k]
    img = nib.Nifti1Image(np.ascontiguousarray(data), nifti_affine(image))
    img.set_data_dtype(dtype)
    img.header.set_xyzt_units("mm")
    img.set_qform(img.affine, code=1)
    img.set_sform(img.affine, code=1)
    return img


def _on_grid(image: sitk.Image, grid: sitk.Image, transform: sitk.Transform | None, *, mask: bool = False) -> sitk.Image:
    """``image`` resampled onto ``grid`` (``transform`` maps grid points to image points)."""
    interp = sitk.sitkNearestNeighbor if mask else sitk.sitkLinear
    tx = transform if transform is not None else sitk.Transform(3, sitk.sitkIdentity)
    pixel = sitk.sitkUInt8 if mask else sitk.sitkFloat32
    return sitk.Resample(sitk.Cast(image, pixel), grid, tx, interp, 0.0, pixel)


def edge(mask: np.ndarray) -> np.ndarray:
    """The voxels of a binary mask that touch the outside (6-connected): the contour in every plane."""
    from scipy import ndimage

    m = np.asarray(mask, bool)
    if not m.any():
        return m
    return m & ~ndimage.binary_erosion(m, structure=ndimage.generate_binary_structure(3, 1), border_value=0)


def _like(array: np.ndarray, grid: sitk.Image) -> sitk.Image:
    img = sitk.GetImageFromArray(array)
    img.CopyInformation(grid)
    return img


def isodose_levels(prescription_gy: float) -> list[dict[str, Any]]:
    """The isodose lines shown for a lesion: % of its target prescription, then absolute Gy levels (Gy)."""
    levels: list[dict[str, Any]] = [{"label": f"{p:g} %", "gy": round(prescription_gy * p / 100.0, 3), "kind": "relative"} for p in ISODOSE_PCT]
    for g in ISODOSE_ABS_GY:  # an absolute level that coincides with a relative one is drawn once
        if all(abs(lv["gy"] - g) > 0.05 for lv in levels):
            levels.append({"label": f"{g:g} Gy", "gy": float(g), "kind": "absolute"})
    return levels


def state_key(out_dir: Path) -> str:
    """SHA-256 naming one analysis state: ``analysis.json`` + the workspace manifest + this module's format."""
    ws = Path(out_dir) / ".radnec"
    h = hashlib.sha256(f"viewer-format:{FORMAT_VERSION};".encode())
    for path in (Path(out_dir) / "analysis.json", ws / "manifest.json"):
        if not path.is_file():
            raise InputError("the case has no finished analysis to show (analysis.json or the workspace is missing)", path=path)
        h.update(path.read_bytes())
    return h.hexdigest()


@dataclass
class _Frames:
    """The planning grid and each follow-up's transforms (planning → follow-up), kept per state key."""

    grid_affine: np.ndarray
    labels: list[str]
    transforms: dict[str, sitk.Transform]
    rigid: dict[str, sitk.Transform]
    methods: dict[str, str]


_frames: dict[str, _Frames] = {}


def _lock_for(path: Path) -> threading.Lock:
    with _locks_guard:
        return _locks.setdefault(str(path), threading.Lock())


def viewer_dir(out_dir: Path) -> Path:
    """The folder of the viewer's cached files (inside the analysis workspace)."""
    return Path(out_dir) / ".radnec" / VIEWER_DIRNAME


def ensure_volumes(out_dir: str | Path) -> Path:
    """The folder holding every viewer file of the current analysis state (built on first use).

    Thread-safe; the folder appears atomically (written in a temporary folder, then renamed), so a
    killed server leaves no half-written set. Older sets of the same case are removed.

    Raises
    ------
    InputError
        The case has no finished analysis (``analysis.json`` or its workspace is missing).
    """
    out = Path(out_dir)
    key = state_key(out)
    root = viewer_dir(out)
    final = root / key[:32]
    if (final / "index.json").is_file():
        return final
    with _lock_for(root):
        if (final / "index.json").is_file():
            return final
        root.mkdir(parents=True, exist_ok=True)
        tmp = root / f"tmp-{os.getpid()}-{uuid.uuid4().hex[:8]}"
        tmp.mkdir()
        try:
            _write_volumes(out, tmp, key)
            os.replace(tmp, final)
        except BaseException:
            shutil.rmtree(tmp, ignore_errors=True)
            raise
        for old in root.iterdir():
            if old != final and old.is_dir() and not old.name.startswith("tmp-"):
                shutil.rmtree(old, ignore_errors=True)
    return final


def _write_volumes(out: Path, folder: Path, key: str) -> None:
    from radnec.geometry.contour_masks import roi_mask
    from radnec.pipeline.run import saved_state

    case, fusions, tracks = saved_state(out)
    analysis = json.loads((out / "analysis.json").read_text(encoding="utf-8"))
    planning = case.planning
    grid = sitk.Cast(planning.t1c_image, sitk.sitkFloat32)
    studies = list(case.studies)

    def transform_of(label: str) -> sitk.Transform | None:
        return None if label == planning.label else fusions[label].transform

    def save(image: sitk.Image, name: str, dtype: Any) -> None:
        to_nifti(image, dtype=dtype).to_filename(str(folder / name))

    t1c_arrays: list[np.ndarray] = []
    for i, st in enumerate(studies):
        t1c = grid if i == 0 else _on_grid(st.t1c_image, grid, transform_of(st.label))
        t1c_arrays.append(sitk.GetArrayFromImage(t1c))
        save(t1c, f"t1c-{i}.nii.gz", np.int16)
    dose = _on_grid(case.dose.image, grid, None)
    dose_arr = sitk.GetArrayFromImage(dose)
    save(dose, "dose.nii.gz", np.int16)

    by_name = {les["name"]: les for les in analysis.get("lesions", [])}
    lesions = []
    for j, track in enumerate(tracks):
        rx = float(track.target.prescription_gy)
        levels = isodose_levels(rx)
        iso = np.zeros(dose_arr.shape, np.uint8)
        for k, lv in reversed(list(enumerate(levels, start=1))):  # low levels first, so a shared edge shows the higher
            iso[edge(dose_arr >= lv["gy"])] = k
        save(_like(iso, grid), f"isodose-{j}.nii.gz", np.uint8)
        block = by_name.get(track.name, {})
        lesions.append({
            "index": j, "name": track.name, "kind": track.kind, "prescription_gy": rx,
            "seed_lps": [float(v) for v in track.seed_lps], "isodose_levels": levels, "isodose_file": f"isodose-{j}.nii.gz",
            "timepoints": [st.label for st in studies if st.label in track.at],
            "dmax_gy": (block.get("dose") or {}).get("dmax_gy"),
        })

    structures = np.zeros(dose_arr.shape, np.uint8)
    drawn: dict[str, list[str]] = {"gtv": [], "ptv": []}
    for roi in case.structures.rois:
        kind = _target_kind(roi)
        if kind is None or not roi.contours:
            continue
        mask = sitk.GetArrayFromImage(roi_mask(roi, grid)) > 0  # a copy: a view of a temporary image is freed memory
        structures[edge(mask) & (structures == 0)] = 1 if kind == "gtv" else 2
        drawn[kind].append(roi.name)
    save(_like(structures, grid), "structures.nii.gz", np.uint8)

    checker = _checker_blocks(grid)
    timepoints = []
    for i, st in enumerate(studies):
        lab = np.zeros(dose_arr.shape, np.uint8)
        for j, track in enumerate(tracks):
            at = track.at.get(st.label)
            if at is None:
                continue
            m = sitk.GetArrayFromImage(_on_grid(at.compartments.value.lesion, grid, transform_of(st.label), mask=True)) > 0
            lab[edge(m) & (lab == 0)] = j + 1
        save(_like(lab, grid), f"lesion-{i}.nii.gz", np.uint8)
        entry: dict[str, Any] = {"index": i, "label": st.label, "date": st.date, "days_since_srs": st.days_since_srs,
                                 "t1c_file": f"t1c-{i}.nii.gz", "lesion_file": f"lesion-{i}.nii.gz"}
        if i > 0:
            a, b = _unit(t1c_arrays[0]), _unit(t1c_arrays[i])
            save(_like(np.where(checker, a, b).astype(np.float32), grid), f"checker-{i}.nii.gz", np.int16)
            entry["checker_file"] = f"checker-{i}.nii.gz"
            f = fusions[st.label]
            entry["registration"] = "deformable" if f.final is not None and f.final.value.deformation is not None else "rigid"
        timepoints.append(entry)

    index = {
        "key": key, "format": FORMAT_VERSION, "grid": {"size": list(grid.GetSize()), "spacing_mm": list(grid.GetSpacing()),
                                                     "affine_ras": nifti_affine(grid).tolist()},
        "timepoints": timepoints, "lesions": lesions, "dose_file": "dose.nii.gz", "dose_max_gy": float(dose_arr.max()),
        "structures_file": "structures.nii.gz", "structures": drawn, "checker_mm": CHECKER_MM,
    }
    (folder / "index.json").write_text(json.dumps(index, indent=1) + "\n", encoding="utf-8")
    _frames[key] = _frames_of(grid, case, fusions)


def _target_kind(roi: Any) -> str | None:
    name = roi.name.strip().lower()
    rtype = (roi.type or "").upper()
    if name.startswith("gtv") or rtype == "GTV":
        return "gtv"
    if name.startswith("ptv") or rtype == "PTV":
        return "ptv"
    return None


def _unit(a: np.ndarray) -> np.ndarray:
    """Intensities scaled to 0…1000 by the 99.5th percentile (so two studies' checkerboard squares match)."""
    top = float(np.percentile(a, 99.5)) if a.size else 1.0
    return np.clip(a / (top if top > 0 else 1.0), 0.0, 1.2) * 1000.0


def _checker_blocks(grid: sitk.Image) -> np.ndarray:
    """True on the planning squares of a 3-D checkerboard of :data:`CHECKER_MM` squares (array order k, j, i)."""
    size = grid.GetSize()
    n = [max(1, int(round(CHECKER_MM / s))) for s in grid.GetSpacing()]
    i, j, k = (np.arange(size[d]) // n[d] for d in range(3))
    return ((k[:, None, None] + j[None, :, None] + i[None, None, :]) % 2) == 0


def _frames_of(grid: sitk.Image, case: Any, fusions: dict[str, Any]) -> _Frames:
    labels = [tp.label for tp in case.followups]
    methods = {}
    for lab in labels:
        f = fusions[lab]
        methods[lab] = "deformable" if f.final is not None and f.final.value.deformation is not None else "rigid"
    return _Frames(
        grid_affine=nifti_affine(grid), labels=labels,
        transforms={lab: fusions[lab].transform for lab in labels},
        rigid={lab: fusions[lab].rigid.value.rigid for lab in labels},
        methods=methods,
    )


def volume_path(out_dir: str | Path, name: str) -> Path:
    """The file ``name`` of the current viewer set (built if needed).

    ``name`` must be one of the set's files (``index.json`` lists them); anything else is refused, so
    no request string reaches the filesystem unchecked.
    """
    folder = ensure_volumes(out_dir)
    allowed = {p.name for p in folder.iterdir() if p.is_file()}
    if name not in allowed:
        raise InputError(f"no viewer volume named {name!r} (see index.json)", path=folder)
    return folder / name


def map_point(out_dir: str | Path, point_ras: Sequence[float]) -> dict[str, Any]:
    """A viewer point (RAS mm, planning frame) in LPS mm in the planning frame and in each follow-up's own frame.

    Returns
    -------
    dict
        ``{"planning": {"lps": [x, y, z]}, "followups": [{"label", "lps", "lps_rigid", "registration"}…]}``:
        ``lps`` maps through the registration the fused display uses (deformable when there is one),
        ``lps_rigid`` through the rigid part alone (mm).
    """
    if len(point_ras) != 3 or not all(np.isfinite(float(v)) for v in point_ras):
        raise InputError("a point needs three finite coordinates (mm)", path=Path(out_dir))
    key = state_key(Path(out_dir))
    frames = _frames.get(key)
    if frames is None:
        ensure_volumes(out_dir)
        frames = _frames.get(key)
        if frames is None:  # the files were built by another process: load the transforms once
            from radnec.pipeline.run import saved_state

            case, fusions, _ = saved_state(out_dir)
            frames = _frames[key] = _frames_of(case.planning.t1c_image, case, fusions)
    lps = ras_to_lps(point_ras)
    p = tuple(float(v) for v in lps)
    followups = []
    for lab in frames.labels:
        followups.append({
            "label": lab,
            "lps": [round(float(v), 2) for v in frames.transforms[lab].TransformPoint(p)],
            "lps_rigid": [round(float(v), 2) for v in frames.rigid[lab].TransformPoint(p)],
            "registration": frames.methods[lab],
        })
    return {"planning": {"lps": [round(v, 2) for v in p]}, "followups": followups}


__all__ = [
    "ISODOSE_ABS_GY",
    "ISODOSE_PCT",
    "edge",
    "ensure_volumes",
    "isodose_levels",
    "lps_to_ras",
    "map_point",
    "nifti_affine",
    "ras_to_lps",
    "state_key",
    "to_nifti",
    "volume_path",
    "viewer_dir",
]
