"""Quadrature points filling an ROI's contour model: in-plane lattices and sub-plane weights.

The points sample the slab model of :mod:`radnec.geometry.contours` finely in its own geometry
(the DVH engine in :mod:`radnec.dose` then interpolates the dose at them), with the exact model
volume: each plane's lattice is tested against its polygons once, and between planes the
sub-planes carry both neighbouring shapes weighted so that the cross-section area follows the
run's area profile.
"""

from __future__ import annotations

import numpy as np

from radnec.geometry import MM3_PER_CC
from radnec.geometry.contours import ROI, ContourModel, area_spline, contour_model, even_odd_area, polygon_path


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
            acc ^= polygon_path(poly).contains_points(p2)
        inside2 = p2[acc]
        if inside2.size == 0:
            area = even_odd_area(slab.polygons)
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
            ((a_, b_), "A", area_spline(np.array([sl.h for sl in model.slabs[a_:b_]]), areas[a_:b_], "A"))
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


__all__ = ["plane_lattice_points", "roi_sample_points"]
