"""RTSTRUCT → ROIs, and contours → masks, partial-volume fractions and volumes.

The contour model (one convention, used by every function here)
---------------------------------------------------------------
An ROI's planar contours lie in parallel planes (any orientation: the plane normal is taken from
the contours themselves, Newell's method, not assumed to be +z). Each contour plane stands for a
**slab**: it extends half-way to the neighbouring contour planes, and at the two ends of a run of
planes by **half the typical (median) plane spacing** beyond the extreme contours — the
"half slice thickness" end-cap most planning systems use and the one the Nelms analytical DVH
benchmark assumes (its cylinder volumes grow by one slice thickness over the ideal cylinder).
A gap larger than :data:`GAP_FACTOR` × the typical spacing separates two runs (two pieces of one
ROI); each piece gets its own end-caps. A single-plane ROI needs a slab thickness: the
``slice_thickness_mm`` argument, else the reference grid's spacing along the normal.

For volumes and DVHs the cross-section area between the planes of a run follows a not-a-knot
**cubic spline through the plane areas** (:meth:`ContourModel.area_factor`): exact for spheres,
cones and cylinders, and it removes most of the stair-step volume loss of smooth shapes contoured
at 2–3 mm (Nelms sphere 3 mm: −1.57 % → 0.00 %; tilted cylinder 3 mm: −4.6 % → −1.9 %). Masks on
a grid (:func:`roi_fraction`, :func:`roi_mask`) keep the geometric stair-step slabs.

Within a plane, contours combine by the **even-odd (XOR) rule**: a contour inside another is a
hole, a contour inside a hole is an island (``CLOSED_PLANAR`` and ``CLOSEDPLANAR_XOR`` alike).
``POINT`` and ``OPEN_PLANAR``/``OPEN_NONPLANAR`` contours, and closed contours with zero area,
enclose no volume: they are ignored for masks and volumes and *reported* in
:attr:`ContourModel.ignored`.

Point-in-polygon tests use :class:`matplotlib.path.Path` (compiled, robust). Masks on a reference
grid are evaluated at voxel centres and, near the boundary only, at ``supersample³`` sub-voxel
points, which gives partial-volume fractions for sub-voxel contours without paying for the
interior. Contours outside the reference grid are clipped and the lost volume reported.
"""

from __future__ import annotations

import logging
from dataclasses import dataclass, field
from os import PathLike
from pathlib import Path

import numpy as np
import SimpleITK as sitk

from radnec.errors import GeometryError, InputError, MissingReferenceError

log = logging.getLogger(__name__)

#: Contour points farther than this (mm) from their contour's plane make the contour non-planar.
PLANARITY_TOLERANCE_MM = 0.05
#: Contours whose plane positions differ by less than this (mm) lie in the same plane.
PLANE_MERGE_TOLERANCE_MM = 0.01
#: Two contour planes more than GAP_FACTOR × the median plane spacing apart bound a gap.
GAP_FACTOR = 1.5
#: Contour planes must be parallel: |cos| of the angle between normals at least this.
PARALLEL_TOLERANCE = 0.999
#: Closed contours enclosing less than this area (mm²) are treated as lines (no volume).
MIN_AREA_MM2 = 1e-6
MM3_PER_CC = 1000.0

CLOSED_TYPES = ("CLOSED_PLANAR", "CLOSEDPLANAR_XOR")


@dataclass(frozen=True)
class Contour:
    """One contour: ``points`` (n, 3) in LPS mm and its DICOM ``ContourGeometricType``."""

    points: np.ndarray
    geometric_type: str


@dataclass(frozen=True)
class ROI:
    """A region of interest of a structure set.

    Attributes
    ----------
    number
        ``ROINumber``.
    name
        ``ROIName``.
    type
        ``RTROIInterpretedType`` (``"GTV"``, ``"PTV"``, ``"ORGAN"``, ``"EXTERNAL"``…; ``""`` if absent).
    color
        ``ROIDisplayColor`` as an (r, g, b) tuple, or ``None``.
    contours
        The contours in LPS mm.
    """

    number: int
    name: str
    type: str
    color: tuple[int, int, int] | None
    contours: list[Contour]


@dataclass(frozen=True)
class StructureSet:
    """An RTSTRUCT: its ROIs and references."""

    rois: list[ROI]
    frame_of_reference_uid: str
    referenced_series_uid: str | None
    sop_instance_uid: str
    path: Path | None = None
    label: str = ""

    def roi(self, name: str) -> ROI:
        """The ROI called ``name`` (case-insensitive, surrounding spaces ignored).

        Raises
        ------
        MissingReferenceError
            No such ROI; the message lists the available names.
        """
        key = name.strip().casefold()
        for r in self.rois:
            if r.name.strip().casefold() == key:
                return r
        raise MissingReferenceError(
            f"no ROI named {name!r}; available: {', '.join(r.name for r in self.rois) or 'none'}", path=self.path
        )

    def by_number(self, number: int) -> ROI:
        """The ROI with ``ROINumber == number``."""
        for r in self.rois:
            if r.number == number:
                return r
        raise MissingReferenceError(f"no ROI number {number}", path=self.path)

    @property
    def names(self) -> list[str]:
        return [r.name for r in self.rois]


def read_rtstruct(path: str | PathLike[str]) -> StructureSet:
    """Read an RTSTRUCT file.

    Raises
    ------
    InputError
        Not readable or not an RTSTRUCT, or contour data malformed (odd number of coordinates,
        non-numeric values, a contour referencing an ROI number that is not declared).
    """
    import pydicom
    from pydicom.errors import InvalidDicomError

    path = Path(path)
    try:
        ds = pydicom.dcmread(path)
    except (InvalidDicomError, OSError, EOFError, ValueError, TypeError) as exc:
        raise InputError(f"cannot read as DICOM ({exc.__class__.__name__}: {exc})", path=path) from exc
    if str(ds.get("Modality", "")) != "RTSTRUCT":
        raise InputError(f"not an RTSTRUCT (Modality is {ds.get('Modality', 'missing')!r})", path=path)

    names: dict[int, str] = {}
    for item in ds.get("StructureSetROISequence", []):
        try:
            names[int(item.ROINumber)] = str(item.get("ROIName", ""))
        except (AttributeError, TypeError, ValueError) as exc:
            raise InputError("a StructureSetROISequence item has no valid ROINumber", path=path) from exc
    types: dict[int, str] = {}
    for item in ds.get("RTROIObservationsSequence", []):
        try:
            types[int(item.ReferencedROINumber)] = str(item.get("RTROIInterpretedType", "") or "")
        except (AttributeError, TypeError, ValueError):
            continue
    contours: dict[int, list[Contour]] = {n: [] for n in names}
    colors: dict[int, tuple[int, int, int] | None] = {}
    for item in ds.get("ROIContourSequence", []):
        try:
            number = int(item.ReferencedROINumber)
        except (AttributeError, TypeError, ValueError) as exc:
            raise InputError("an ROIContourSequence item has no ReferencedROINumber", path=path) from exc
        if number not in names:
            raise InputError(f"contours reference ROI number {number}, which the structure set does not declare", path=path)
        col = item.get("ROIDisplayColor")
        try:  # display only: a malformed colour is dropped, not fatal
            colors[number] = tuple(int(c) for c in col) if col is not None and len(col) == 3 else None
        except (TypeError, ValueError):
            colors[number] = None
        for j, c in enumerate(item.get("ContourSequence", [])):
            gtype = str(c.get("ContourGeometricType", "CLOSED_PLANAR")).upper()
            try:
                pts = _contour_values(c)
            except (TypeError, ValueError) as exc:
                raise InputError(f"ROI {names[number]!r} contour {j}: ContourData not numeric", path=path) from exc
            if pts is None:
                raise InputError(f"ROI {names[number]!r} contour {j} has no ContourData", path=path)
            if pts.size % 3 or pts.size == 0 or not np.all(np.isfinite(pts)):
                raise InputError(
                    f"ROI {names[number]!r} contour {j}: ContourData has {pts.size} values (need x,y,z triplets)",
                    path=path,
                )
            contours[number].append(Contour(points=pts.reshape(-1, 3), geometric_type=gtype))

    rois = [
        ROI(number=n, name=names[n], type=types.get(n, ""), color=colors.get(n), contours=contours[n])
        for n in names
    ]
    series_uid = None
    for fr in ds.get("ReferencedFrameOfReferenceSequence", []):
        for st in fr.get("RTReferencedStudySequence", []):
            for se in st.get("RTReferencedSeriesSequence", []):
                series_uid = str(se.get("SeriesInstanceUID", "")) or None
                break
    for_uid = str(ds.get("FrameOfReferenceUID", "") or "")
    if not for_uid and "ReferencedFrameOfReferenceSequence" in ds and len(ds.ReferencedFrameOfReferenceSequence):
        for_uid = str(ds.ReferencedFrameOfReferenceSequence[0].get("FrameOfReferenceUID", ""))
    return StructureSet(
        rois=rois,
        frame_of_reference_uid=for_uid,
        referenced_series_uid=series_uid,
        sop_instance_uid=str(ds.get("SOPInstanceUID", "")),
        path=path,
        label=str(ds.get("StructureSetLabel", "")),
    )


def _contour_values(item) -> np.ndarray | None:
    """ContourData as floats. Parses the raw DS bytes directly when pydicom has not converted them
    yet (≈ 10× faster than building one pydicom DS object per coordinate on large structure sets)."""
    tag = 0x30060050
    if tag not in item:
        return None
    elem = item.get_item(tag)
    value = getattr(elem, "value", None)
    if isinstance(value, (bytes, bytearray)):
        text = bytes(value).replace(b"\x00", b" ").strip()
        if not text:
            return np.zeros(0)
        return np.array([float(v) for v in text.split(b"\\")], dtype=float)
    raw = item.ContourData
    if raw is None:
        return None
    if isinstance(raw, (str, float, int)):
        raw = [raw]
    return np.array([float(v) for v in raw], dtype=float)


# --------------------------------------------------------------------------------------------
# The slab model
# --------------------------------------------------------------------------------------------


@dataclass(frozen=True)
class Slab:
    """One contour plane as a slab: plane position ``h``, extent ``[lo, hi]`` along the normal
    (mm), and its closed polygons in in-plane coordinates (u, v) (mm)."""

    h: float
    lo: float
    hi: float
    polygons: list[np.ndarray]

    @property
    def thickness(self) -> float:
        return self.hi - self.lo


#: Candidate families for the cross-section area between contour planes: a cubic spline is
#: fitted to g(A) and inverted. ``A`` is exact for spheres, cones and cylinders along the plane
#: normal (A polynomial of degree ≤ 2); ``A²`` is exact for a cylinder lying in the planes (its
#: area grows like the square root of the distance from the tangent plane). The family is chosen
#: per run of planes by leave-one-out cross-validation on the plane areas (ties: ``A``).
AREA_FAMILIES = ("A", "A^2")
#: A family must beat ``A`` by this relative margin of the cross-validation error to be chosen.
FAMILY_MARGIN = 0.5


def _family_spline(hs: np.ndarray, areas: np.ndarray, family: str):
    from scipy.interpolate import CubicSpline

    g = areas if family == "A" else areas**2
    if len(hs) >= 3:
        sp = CubicSpline(hs, g)
    else:
        sp = lambda w: np.interp(w, hs, g)  # noqa: E731
    if family == "A":
        return lambda w: np.clip(sp(w), 0.0, None)
    return lambda w: np.sqrt(np.clip(sp(w), 0.0, None))


def _loo_error(hs: np.ndarray, areas: np.ndarray, family: str) -> float:
    err = 0.0
    for i in range(1, len(hs) - 1):
        keep = np.arange(len(hs)) != i
        pred = float(_family_spline(hs[keep], areas[keep], family)(hs[i]))
        err += (pred - areas[i]) ** 2
    return err


def area_profiles(model: ContourModel) -> list[tuple[tuple[int, int], str, object]]:
    """Per run of contour planes: ``((start, stop), family, A(w))`` — the interpolated
    cross-section area (mm²) as a function of the position ``w`` (mm along the normal) between
    the run's extreme planes (see :data:`AREA_FAMILIES`)."""
    areas = model.areas_mm2()
    out = []
    for a_, b_ in model.runs or [(0, len(model.slabs))]:
        hs = np.array([s.h for s in model.slabs[a_:b_]])
        ar = areas[a_:b_]
        family = "A"
        if model.area_interpolation and len(hs) >= 5:
            errs = {f: _loo_error(hs, ar, f) for f in AREA_FAMILIES}
            best = min(errs, key=errs.get)
            if best != "A" and errs[best] < FAMILY_MARGIN * errs["A"]:
                family = best
        if not model.area_interpolation:
            out.append(((a_, b_), "stair-step", None))
        else:
            out.append(((a_, b_), family, _family_spline(hs, ar, family)))
    return out



@dataclass(frozen=True)
class ContourModel:
    """An ROI's contours as slabs in a plane-aligned frame.

    ``origin`` + u·``u`` + v·``v`` + w·``normal`` is the LPS point of plane coordinates (u, v, w).
    """

    origin: np.ndarray
    u: np.ndarray
    v: np.ndarray
    normal: np.ndarray
    slabs: list[Slab]
    ignored: list[str] = field(default_factory=list)
    end_cap_mm: float = 0.0
    #: Index ranges [start, stop) of runs of consecutive planes (split at gaps).
    runs: list[tuple[int, int]] = field(default_factory=list)
    #: Cross-section areas follow a cubic spline through the plane areas within each run
    #: (see :meth:`area_factor`); ``False`` gives the plain stair-step slab model.
    area_interpolation: bool = True

    def areas_mm2(self) -> np.ndarray:
        """Even-odd area (mm²) of each plane's polygons."""
        return np.array([_even_odd_area(s.polygons) for s in self.slabs])

    def area_factor(self, k: int, w: np.ndarray, areas: np.ndarray | None = None) -> np.ndarray:
        """Interpolated cross-section area ÷ plane-k area at positions ``w`` (mm along the normal)
        inside slab ``k``.

        Between the planes of a run the cross-section area follows :func:`area_profiles` (a
        not-a-knot cubic spline through the plane areas, or through their squares when leave-one-out
        cross-validation on the run's own areas prefers it: exact for spheres, cones and upright
        cylinders, and for cylinders lying in the planes respectively); beyond the extreme planes (end-caps) the extreme contour is
        extruded (factor 1). Negative spline values are clipped to 0. The in-plane shape of
        slab ``k`` is kept; only its weight changes, which is what volumes and DVHs need.
        """
        w = np.asarray(w, dtype=float)
        out = np.ones_like(w)
        if not self.area_interpolation:
            return out
        run = next(((a, b) for a, b in self.runs if a <= k < b), None)
        if run is None or run[1] - run[0] < 2:
            return out
        a_, b_ = run
        areas = self.areas_mm2() if areas is None else areas
        if areas[k] <= 0:
            return out
        f = next(f for (ra, rb), _, f in self.profiles() if (ra, rb) == (a_, b_))
        hs = np.array([sl.h for sl in self.slabs[a_:b_]])
        inner = (w >= hs[0]) & (w <= hs[-1])
        out[inner] = f(w[inner]) / areas[k]
        return out

    def profiles(self) -> list:
        """:func:`area_profiles` of this model, computed once."""
        cached = self.__dict__.get("_profiles")
        if cached is None:
            cached = area_profiles(self)
            object.__setattr__(self, "_profiles", cached)
        return cached

    def to_lps(self, uvw: np.ndarray) -> np.ndarray:
        uvw = np.asarray(uvw, dtype=float).reshape(-1, 3)
        return self.origin + uvw[:, :1] * self.u + uvw[:, 1:2] * self.v + uvw[:, 2:3] * self.normal

    def to_plane(self, lps: np.ndarray) -> np.ndarray:
        d = np.asarray(lps, dtype=float).reshape(-1, 3) - self.origin
        return np.column_stack([d @ self.u, d @ self.v, d @ self.normal])

    def bounds_lps(self) -> np.ndarray:
        """The 8 corners (LPS) of the slab stack's bounding box."""
        allp = np.vstack([p for s in self.slabs for p in s.polygons])
        umin, vmin = allp.min(axis=0)
        umax, vmax = allp.max(axis=0)
        wmin, wmax = self.slabs[0].lo, self.slabs[-1].hi
        corners = np.array([[a, b, c] for a in (umin, umax) for b in (vmin, vmax) for c in (wmin, wmax)])
        return self.to_lps(corners)

    def inside(self, lps: np.ndarray) -> np.ndarray:
        """Boolean: which LPS points lie inside the ROI (slab model, even-odd rule)."""

        uvw = self.to_plane(lps)
        out = np.zeros(len(uvw), dtype=bool)
        if not self.slabs:
            return out
        los = np.array([s.lo for s in self.slabs])
        his = np.array([s.hi for s in self.slabs])
        k = np.searchsorted(los, uvw[:, 2], side="right") - 1
        valid = (k >= 0) & (uvw[:, 2] < his[np.clip(k, 0, None)]) & (uvw[:, 2] >= los[np.clip(k, 0, None)])
        order = np.argsort(np.where(valid, k, -1), kind="stable")
        ks = np.where(valid, k, -1)[order]
        bounds = np.searchsorted(ks, np.arange(len(self.slabs) + 1))
        for i, slab in enumerate(self.slabs):
            idx = order[bounds[i] : bounds[i + 1]]
            if idx.size == 0:
                continue
            pts2 = uvw[idx, :2]
            acc = np.zeros(idx.size, dtype=bool)
            for poly in slab.polygons:
                acc ^= _mpl_path(poly).contains_points(pts2)
            out[idx] = acc
        return out

    def volume_cc(self) -> float:
        """Volume (cm³) of the model: Σ over slabs of ∫ cross-section area dw (interpolated areas
        between planes, extruded end-caps; the stair-step Σ thickness × area without
        ``area_interpolation``)."""
        areas = self.areas_mm2()
        total = 0.0
        for k, sl in enumerate(self.slabs):
            if not self.area_interpolation:
                total += sl.thickness * areas[k]
                continue
            w = sl.lo + (np.arange(64) + 0.5) * sl.thickness / 64
            total += float(np.mean(self.area_factor(k, w, areas))) * sl.thickness * areas[k]
        return total / MM3_PER_CC


def contour_model(
    roi: ROI,
    *,
    slice_thickness_mm: float | None = None,
    end_cap: bool = True,
    area_interpolation: bool = True,
) -> ContourModel:
    """Build the slab model of ``roi`` (see the module docstring for the convention).

    Parameters
    ----------
    roi
        The ROI.
    slice_thickness_mm
        Slab thickness (mm) for a single-plane ROI (and the end-cap reference when given).
    end_cap
        Extend the extreme contours by half the typical plane spacing (default, TPS-like). With
        ``False`` the volume stops at the extreme contour planes.
    area_interpolation
        Interpolate cross-section areas between planes (cubic spline) for volumes and DVHs
        (default); ``False`` gives the plain stair-step slab model.

    Raises
    ------
    GeometryError
        No closed contour with area; non-planar or non-parallel contours; a single-plane ROI
        without a slab thickness.
    """
    ignored: list[str] = []
    closed: list[np.ndarray] = []
    for j, c in enumerate(roi.contours):
        if c.geometric_type not in CLOSED_TYPES:
            ignored.append(f"contour {j}: {c.geometric_type} with {len(c.points)} point(s) encloses no volume")
            continue
        if len(c.points) < 3 or abs(_newell_normal(c.points, unit=False)).sum() < 2 * MIN_AREA_MM2:
            ignored.append(f"contour {j}: closed contour with zero area (a point or line) encloses no volume")
            continue
        closed.append(c.points)
    if not closed:
        raise GeometryError(
            f"ROI {roi.name!r} has no closed contour enclosing an area"
            + (f" ({'; '.join(ignored[:3])})" if ignored else " (empty ROI)")
        )
    areas = [np.linalg.norm(_newell_normal(p, unit=False)) for p in closed]
    normal = _newell_normal(closed[int(np.argmax(areas))])
    for j, p in enumerate(closed):
        nj = _newell_normal(p)
        if abs(float(nj @ normal)) < PARALLEL_TOLERANCE and areas[j] > 1e-3:
            raise GeometryError(
                f"ROI {roi.name!r}: contours are not in parallel planes (normal {np.round(nj, 4)} vs "
                f"{np.round(normal, 4)}); radnec supports planar contours in parallel planes only"
            )
    # In-plane basis: u along the LPS axis most perpendicular to the normal, v = n × u.
    axis = np.eye(3)[int(np.argmin(np.abs(normal)))]
    if abs(normal[2]) > 0.5:
        axis = np.array([1.0, 0.0, 0.0])
    u = axis - (axis @ normal) * normal
    u /= np.linalg.norm(u)
    v = np.cross(normal, u)
    origin = np.zeros(3)

    planes: list[tuple[float, np.ndarray]] = []
    for j, p in enumerate(closed):
        w = p @ normal
        if np.ptp(w) > 2 * PLANARITY_TOLERANCE_MM:
            raise GeometryError(
                f"ROI {roi.name!r}: a contour is not planar (spread {np.ptp(w):.3f} mm along the normal)"
            )
        planes.append((float(w.mean()), np.column_stack([p @ u, p @ v])))
    planes.sort(key=lambda t: t[0])
    hs: list[float] = []
    polys: list[list[np.ndarray]] = []
    for h, poly in planes:
        if hs and abs(h - hs[-1]) <= PLANE_MERGE_TOLERANCE_MM:
            polys[-1].append(poly)
        else:
            hs.append(h)
            polys.append([poly])
    h_arr = np.array(hs)
    if len(h_arr) > 1:
        steps = np.diff(h_arr)
        typical = float(np.median(steps))
    else:
        if slice_thickness_mm is None or not slice_thickness_mm > 0:
            raise GeometryError(
                f"ROI {roi.name!r} is contoured on a single plane; give slice_thickness_mm (the slab thickness)"
            )
        steps = np.array([])
        typical = float(slice_thickness_mm)
    if slice_thickness_mm is not None and slice_thickness_mm > 0 and len(h_arr) == 1:
        typical = float(slice_thickness_mm)
    cap = typical / 2.0 if end_cap else 0.0
    lo = np.empty(len(h_arr))
    hi = np.empty(len(h_arr))
    for i in range(len(h_arr)):
        below = steps[i - 1] if i > 0 else np.inf
        above = steps[i] if i < len(steps) else np.inf
        lo[i] = h_arr[i] - (below / 2 if below <= GAP_FACTOR * typical else cap)
        hi[i] = h_arr[i] + (above / 2 if above <= GAP_FACTOR * typical else cap)
    if len(h_arr) == 1 and not end_cap:
        lo[0], hi[0] = h_arr[0] - typical / 2, h_arr[0] + typical / 2
        ignored.append("single-plane ROI: end_cap=False ignored (a single plane needs a thickness)")
    slabs = [Slab(h=float(h_arr[i]), lo=float(lo[i]), hi=float(hi[i]), polygons=polys[i]) for i in range(len(h_arr))]
    breaks = [0] + [i + 1 for i in range(len(steps)) if steps[i] > GAP_FACTOR * typical] + [len(h_arr)]
    runs = [(breaks[i], breaks[i + 1]) for i in range(len(breaks) - 1)]
    return ContourModel(
        origin=origin, u=u, v=v, normal=normal, slabs=slabs, ignored=ignored, end_cap_mm=cap, runs=runs,
        area_interpolation=area_interpolation,
    )


def roi_volume_cc(roi: ROI, *, slice_thickness_mm: float | None = None, end_cap: bool = True) -> float:
    """Volume (cm³) of an ROI from its contours alone (no grid): Σ slab thickness × even-odd area.

    This is the exact volume of the slab model of the module docstring; masks on a grid
    converge to it as the supersampling increases.
    """
    return contour_model(roi, slice_thickness_mm=slice_thickness_mm, end_cap=end_cap).volume_cc()


@dataclass(frozen=True)
class RasterReport:
    """What happened when an ROI was put on a grid."""

    volume_cc: float
    contour_volume_cc: float
    outside_fraction: float
    ignored: list[str]


def roi_fraction(
    roi: ROI | ContourModel,
    reference: sitk.Image,
    *,
    supersample: int = 4,
    slice_thickness_mm: float | None = None,
    end_cap: bool = True,
    report: list[RasterReport] | None = None,
) -> sitk.Image:
    """Partial-volume fraction (0..1, ``sitkFloat32``) of each voxel of ``reference`` inside ``roi``.

    Voxel centres decide interior and exterior voxels; voxels on the boundary (where the centre
    test changes within the 3×3×3 neighbourhood, or that contain a contour vertex) are split into
    ``supersample³`` sub-voxels, so sub-voxel contours get their fraction. Works on any reference
    grid (oblique, non-axial contours, different spacing).

    Parameters
    ----------
    roi
        ROI or its prepared :class:`ContourModel`.
    reference
        The output grid.
    supersample
        Sub-voxels per axis at the boundary (1 = centre test only).
    slice_thickness_mm, end_cap
        See :func:`contour_model`. A single-plane ROI without ``slice_thickness_mm`` uses the
        reference spacing along the contour normal.
    report
        If a list is given, a :class:`RasterReport` is appended (volume on the grid, exact contour
        volume, fraction of the contour volume outside the grid, ignored contours).
    """
    if supersample < 1:
        raise ValueError(f"supersample must be ≥ 1, got {supersample}")
    model = roi if isinstance(roi, ContourModel) else grid_contour_model(roi, reference, slice_thickness_mm, end_cap)
    size = np.array(reference.GetSize())
    out = np.zeros(size[::-1], dtype=np.float32)
    contour_cc = model.volume_cc()
    lo_i, hi_i, clipped = _index_box(model, reference)
    if lo_i is not None:
        box_shape = (hi_i - lo_i + 1)[::-1]
        zz, yy, xx = np.indices(box_shape)
        idx = np.column_stack([xx.ravel() + lo_i[0], yy.ravel() + lo_i[1], zz.ravel() + lo_i[2]])
        centres = _index_to_lps(reference, idx.astype(float))
        centre_in = model.inside(centres).reshape(box_shape)
        frac = centre_in.astype(np.float32)
        if supersample > 1:
            from scipy import ndimage

            st = np.ones((3, 3, 3), dtype=bool)
            boundary = ndimage.binary_dilation(centre_in, st) & ~ndimage.binary_erosion(centre_in, st)
            vert = np.zeros(box_shape, dtype=bool)
            allv = np.vstack([model.to_lps(np.column_stack([p, np.full(len(p), s.h)])) for s in model.slabs for p in s.polygons])
            vi = np.rint(_lps_to_index(reference, allv)).astype(int) - lo_i
            ok = np.all((vi >= 0) & (vi < (hi_i - lo_i + 1)), axis=1)
            vert[vi[ok, 2], vi[ok, 1], vi[ok, 0]] = True
            boundary |= ndimage.binary_dilation(vert, st)
            bidx = np.argwhere(boundary)  # (z, y, x) in box
            if bidx.size:
                offs = (np.arange(supersample) + 0.5) / supersample - 0.5
                sub = np.array(np.meshgrid(offs, offs, offs, indexing="ij")).reshape(3, -1).T  # (s³, 3) as x,y,z
                # chunk to bound memory
                chunk = max(1, 2_000_000 // sub.shape[0])
                for start in range(0, len(bidx), chunk):
                    b = bidx[start : start + chunk]
                    base = b[:, ::-1] + lo_i  # x, y, z indices
                    pts_idx = (base[:, None, :] + sub[None, :, :]).reshape(-1, 3)
                    hits = model.inside(_index_to_lps(reference, pts_idx)).reshape(len(b), -1).mean(axis=1)
                    frac[b[:, 0], b[:, 1], b[:, 2]] = hits
        out[lo_i[2] : hi_i[2] + 1, lo_i[1] : hi_i[1] + 1, lo_i[0] : hi_i[0] + 1] = frac
    img = sitk.GetImageFromArray(out)
    img.CopyInformation(reference)
    vol = float(out.sum()) * float(np.prod(reference.GetSpacing())) / MM3_PER_CC
    outside = 0.0
    if clipped and contour_cc > 0:
        outside = float(min(1.0, max(0.0, 1.0 - vol / contour_cc)))
    if clipped:
        # A caller that asks for a report takes charge of telling the user (e.g. a Brain ROI larger
        # than the dose grid is expected); otherwise warn here.
        (log.debug if report is not None else log.warning)(
            "ROI %r extends outside the reference grid (about %.1f %% of its volume lost)", getattr(roi, "name", "?"), 100 * outside
        )
    if report is not None:
        report.append(RasterReport(volume_cc=vol, contour_volume_cc=contour_cc, outside_fraction=outside, ignored=list(model.ignored)))
    return img


def roi_mask(
    roi: ROI | ContourModel,
    reference: sitk.Image,
    *,
    supersample: int = 1,
    slice_thickness_mm: float | None = None,
    end_cap: bool = True,
    report: list[RasterReport] | None = None,
) -> sitk.Image:
    """Binary mask (``sitkUInt8`` 0/1) of ``roi`` on ``reference``.

    With ``supersample == 1`` a voxel is in when its centre is inside the ROI (the
    dicompyler/TPS convention); with ``supersample > 1`` the voxels with the largest partial-volume
    fractions are taken until their count equals the summed fractions (volume-preserving; the
    mask volume equals the contour volume within one voxel, also for thin or pointed shapes).
    """
    if supersample == 1:
        frac = roi_fraction(roi, reference, supersample=1, slice_thickness_mm=slice_thickness_mm, end_cap=end_cap, report=report)
        return sitk.Cast(frac > 0.5, sitk.sitkUInt8)
    frac = roi_fraction(roi, reference, supersample=supersample, slice_thickness_mm=slice_thickness_mm, end_cap=end_cap, report=report)
    arr = sitk.GetArrayViewFromImage(frac)
    flat = np.asarray(arr).ravel()
    n = int(round(float(flat.sum())))
    out = np.zeros(flat.shape, dtype=np.uint8)
    if n > 0:
        # volume-preserving binarisation: the n voxels with the largest fractions, where
        # n = Σ fractions (a plain ≥ 0.5 threshold biases thin or pointed shapes by several %)
        order = np.argsort(-flat, kind="stable")[:n]
        out[order[flat[order] > 0]] = 1
    img = sitk.GetImageFromArray(out.reshape(arr.shape))
    img.CopyInformation(reference)
    return img


def plane_lattice_points(
    model: ContourModel, pitch_mm: float, rng: np.random.Generator, *, jitter: bool = True
) -> tuple[list[np.ndarray], list[float]]:
    """In-plane sample points (u, v in mm) of every slab of ``model`` and the area (mm²) each carries.

    A lattice of pitch ``pitch_mm`` over each plane's contours (stratified: each point jittered
    within its cell when ``jitter``), kept where the even-odd rule says inside. A contour smaller
    than the pitch gets one point at its centroid carrying its exact area.
    """
    h = float(pitch_mm)
    planes2: list[np.ndarray] = []
    cell: list[float] = []
    for slab in model.slabs:
        allp = np.vstack(slab.polygons)
        u0 = np.floor(allp[:, 0].min() / h) * h
        v0 = np.floor(allp[:, 1].min() / h) * h
        us = np.arange(u0 + h / 2, allp[:, 0].max() + h, h)
        vs = np.arange(v0 + h / 2, allp[:, 1].max() + h, h)
        uu, vv = np.meshgrid(us, vs, indexing="ij")
        p2 = np.column_stack([uu.ravel(), vv.ravel()])
        if jitter and len(p2):
            p2 = p2 + rng.uniform(-h / 2, h / 2, size=p2.shape)
        acc = np.zeros(len(p2), dtype=bool)
        for poly in slab.polygons:
            acc ^= _mpl_path(poly).contains_points(p2)
        inside2 = p2[acc]
        if inside2.size == 0:
            area = _even_odd_area(slab.polygons)
            planes2.append(allp.mean(axis=0, keepdims=True) if area > 0 else np.zeros((0, 2)))
            cell.append(area)
        else:
            planes2.append(inside2)
            cell.append(h * h)
    return planes2, cell


def roi_sample_points(
    roi: ROI | ContourModel,
    *,
    spacing_mm: float,
    slice_thickness_mm: float | None = None,
    end_cap: bool = True,
    jitter: bool = True,
    seed: int = 0,
    profiles: list | None = None,
) -> tuple[np.ndarray, np.ndarray]:
    """Quadrature points of the ROI's slab model: LPS points (n, 3) and their volumes (cm³).

    In each plane a regular in-plane grid of pitch ``spacing_mm`` (aligned across planes) is
    tested against the plane's polygons once. Between two planes of a run, sub-planes every
    ``spacing_mm`` carry a *mixture* of both planes' points, weighted (1 − t) and t (t = fraction
    of the way from the lower plane) and scaled so that the total cross-section area follows the
    run's area profile: by default the cubic spline of the plane areas (see
    :meth:`ContourModel.area_factor`), or the ``((start, stop), family, A(w))`` entries of
    ``profiles`` (:func:`area_profiles`; ``A`` ``None`` = stair-step, each half of the gap keeps
    its plane). A smooth morph between the two shapes in the dose sampling, and the exact model
    volume. Beyond the extreme planes (end-caps) the extreme contour is extruded. With
    ``area_interpolation=False`` and no ``profiles`` each slab is a plain extrusion of its plane
    (stair-step). This is what the DVH engine uses: the structure is sampled finely in its own
    geometry and the dose is interpolated at the points.

    With ``jitter`` (default) every point is moved to a random position inside its own cell
    (stratified sampling, fixed ``seed``): a regular lattice would quantise the doses of a
    gradient into steps of gradient × pitch and bias D-metrics by up to half a step; stratified
    points give continuous doses and unbiased D-metrics. Same inputs → same points.
    """
    rng = np.random.default_rng(seed)

    model = roi if isinstance(roi, ContourModel) else contour_model(roi, slice_thickness_mm=slice_thickness_mm, end_cap=end_cap)
    h = float(spacing_mm)
    if not h > 0:
        raise ValueError(f"spacing_mm must be positive, got {spacing_mm}")
    pts_all: list[np.ndarray] = []
    w_all: list[np.ndarray] = []
    areas = model.areas_mm2()
    # in-plane points of every plane (one test per plane)
    planes2, cell = plane_lattice_points(model, h, rng, jitter=jitter)

    def emit(k: int, w: np.ndarray, factor: np.ndarray, dz: float) -> None:
        if len(planes2[k]) == 0:
            return
        pts_all.append(model.to_lps(np.column_stack([planes2[k], w])))
        w_all.append(cell[k] * dz / MM3_PER_CC * factor)

    def span(lo: float, hi: float):
        """Sub-plane centres (jittered per point later) and thickness over [lo, hi]."""
        n_sub = max(1, int(np.ceil((hi - lo) / h - 1e-9)))
        return lo + (np.arange(n_sub) + 0.5) * (hi - lo) / n_sub, (hi - lo) / n_sub

    def positions(k: int, w0: float, dz: float) -> np.ndarray:
        w = np.full(len(planes2[k]), w0)
        if jitter:
            w = w + rng.uniform(-dz / 2, dz / 2, size=len(w))
        return w

    if profiles is None and not model.area_interpolation:
        for k, slab in enumerate(model.slabs):
            ws, dz = span(slab.lo, slab.hi)
            for w0 in ws:
                emit(k, positions(k, w0, dz), np.ones(len(planes2[k])), dz)
        profiles = []
    elif profiles is None:
        profiles = [
            ((a_, b_), "A", _family_spline(np.array([sl.h for sl in model.slabs[a_:b_]]), areas[a_:b_], "A"))
            for a_, b_ in (model.runs or [(0, len(model.slabs))])
        ]
    for (a_, b_), _family, area_at in profiles:
        # end-caps: the extreme contours extruded
        for k, lo, hi in ((a_, model.slabs[a_].lo, model.slabs[a_].h), (b_ - 1, model.slabs[b_ - 1].h, model.slabs[b_ - 1].hi)):
            if hi - lo <= 1e-9:
                continue
            ws, dz = span(lo, hi)
            for w0 in ws:
                emit(k, positions(k, w0, dz), np.ones(len(planes2[k])), dz)
        # between planes: a mixture of the two neighbouring shapes, (1 − t) and t, scaled so
        # that the total cross-section area follows the run's area profile
        for k in range(a_, b_ - 1):
            h0, h1 = model.slabs[k].h, model.slabs[k + 1].h
            ws, dz = span(h0, h1)
            for w0 in ws:
                for kk, is_upper in ((k, False), (k + 1, True)):
                    w = positions(kk, w0, dz)
                    t = np.clip((w - h0) / (h1 - h0), 0.0, 1.0)
                    if area_at is None:  # stair-step: each half keeps its plane
                        emit(kk, w, ((t >= 0.5) if is_upper else (t < 0.5)).astype(float), dz)
                        continue
                    lin = (1 - t) * areas[k] + t * areas[k + 1]
                    scale = np.where(lin > 0, np.clip(area_at(w), 0.0, None) / np.where(lin > 0, lin, 1.0), 0.0)
                    emit(kk, w, (t if is_upper else 1 - t) * scale, dz)
    if not pts_all:
        return np.zeros((0, 3)), np.zeros(0)
    return np.vstack(pts_all), np.concatenate(w_all)


# --------------------------------------------------------------------------------------------
# helpers
# --------------------------------------------------------------------------------------------


def grid_contour_model(
    roi: ROI, reference: sitk.Image, thickness: float | None = None, end_cap: bool = True
) -> ContourModel:
    """:func:`contour_model` of ``roi``; a single-plane ROI without ``thickness`` takes its slab
    thickness from ``reference``'s spacing along the contour normal (mm)."""
    try:
        return contour_model(roi, slice_thickness_mm=thickness, end_cap=end_cap)
    except GeometryError as exc:
        if "single plane" not in str(exc):
            raise
        # single plane: use the reference spacing along the contour normal
        pts = next(c.points for c in roi.contours if c.geometric_type in CLOSED_TYPES and len(c.points) >= 3)
        n = _newell_normal(pts)
        d = np.asarray(reference.GetDirection()).reshape(3, 3)
        sp = np.asarray(reference.GetSpacing())
        along = float(np.max(np.abs(d.T @ n) * sp))
        log.info("ROI %r: single contour plane; slab thickness taken from the grid (%.3g mm)", roi.name, along)
        return contour_model(roi, slice_thickness_mm=along, end_cap=end_cap)


def _newell_normal(points: np.ndarray, *, unit: bool = True) -> np.ndarray:
    p = np.asarray(points, dtype=float)
    q = np.roll(p, -1, axis=0)
    n = np.array(
        [
            np.sum((p[:, 1] - q[:, 1]) * (p[:, 2] + q[:, 2])),
            np.sum((p[:, 2] - q[:, 2]) * (p[:, 0] + q[:, 0])),
            np.sum((p[:, 0] - q[:, 0]) * (p[:, 1] + q[:, 1])),
        ]
    ) / 2.0
    if not unit:
        return n
    norm = np.linalg.norm(n)
    if norm == 0:
        return np.array([0.0, 0.0, 1.0])
    n = n / norm
    # orient consistently: largest component positive
    if n[int(np.argmax(np.abs(n)))] < 0:
        n = -n
    return n


def _mpl_path(poly: np.ndarray):
    """A closed matplotlib Path of a polygon. matplotlib treats the last vertex of a
    ``closed=True`` path as the CLOSEPOLY code and ignores its position, so the first vertex is
    repeated at the end (otherwise a square would become a triangle)."""
    from matplotlib.path import Path as MplPath

    return MplPath(np.vstack([poly, poly[:1]]), closed=True)


def _poly_area(poly: np.ndarray) -> float:
    x, y = poly[:, 0], poly[:, 1]
    return 0.5 * abs(float(np.dot(x, np.roll(y, -1)) - np.dot(y, np.roll(x, -1))))


def _even_odd_area(polygons: list[np.ndarray]) -> float:
    """Area (mm²) of polygons combined by the even-odd rule, assuming they do not cross
    (nesting depth decides sign: outer +, hole −, island +)."""

    total = 0.0
    paths = [_mpl_path(p) for p in polygons]
    for i, p in enumerate(polygons):
        probe = p[:1]
        depth = sum(bool(paths[j].contains_points(probe)[0]) for j in range(len(polygons)) if j != i)
        total += (-1) ** depth * _poly_area(p)
    return max(total, 0.0)


def _index_to_lps(image: sitk.Image, idx_xyz: np.ndarray) -> np.ndarray:
    origin = np.asarray(image.GetOrigin())
    spacing = np.asarray(image.GetSpacing())
    direction = np.asarray(image.GetDirection()).reshape(3, 3)
    return origin + (np.asarray(idx_xyz, dtype=float) * spacing) @ direction.T


def _lps_to_index(image: sitk.Image, pts: np.ndarray) -> np.ndarray:
    origin = np.asarray(image.GetOrigin())
    spacing = np.asarray(image.GetSpacing())
    direction = np.asarray(image.GetDirection()).reshape(3, 3)
    return ((np.asarray(pts, dtype=float) - origin) @ direction) / spacing


def _index_box(model: ContourModel, reference: sitk.Image):
    """Voxel index box (x, y, z inclusive) of the model on ``reference``, clipped; and whether
    clipping happened."""
    ci = _lps_to_index(reference, model.bounds_lps())
    lo = np.floor(ci.min(axis=0) - 0.5).astype(int) - 1
    hi = np.ceil(ci.max(axis=0) + 0.5).astype(int) + 1
    size = np.array(reference.GetSize())
    clipped = bool(np.any(ci.min(axis=0) < -0.5) or np.any(ci.max(axis=0) > size - 0.5))
    lo = np.clip(lo, 0, size - 1)
    hi = np.clip(hi, 0, size - 1)
    if np.any(ci.max(axis=0) < -0.5) or np.any(ci.min(axis=0) > size - 0.5):
        return None, None, True
    return lo, hi, clipped


__all__ = [
    "Contour",
    "ROI",
    "StructureSet",
    "ContourModel",
    "Slab",
    "RasterReport",
    "read_rtstruct",
    "contour_model",
    "grid_contour_model",
    "roi_volume_cc",
    "roi_fraction",
    "roi_mask",
    "roi_sample_points",
]
