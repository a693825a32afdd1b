"""Build a synthetic SRS case in memory (:func:`build_case`) and write it (:func:`generate_case`).

Frames: the PLANNING frame is the MNI152 template space (LPS mm) on an axial grid. Each
follow-up has its own frame: ``T = R ∘ M`` maps planning points to follow-up points (see
:mod:`radnec.phantom.deform`). Follow-up images and truth masks are synthesised by resampling
planning-frame tissue maps and lesion level fields through ``T^-1`` onto the follow-up grid.
"""

from __future__ import annotations

import datetime as dt
import logging
from pathlib import Path

import numpy as np
import SimpleITK as sitk
from scipy.ndimage import map_coordinates

from radnec.errors import InputError
from radnec.geometry import MM3_PER_CC
from radnec.phantom.anatomy import build_anatomy, physical_axes
from radnec.phantom.config import load_config
from radnec.phantom.contours import contours_to_mask, mask_to_contours
from radnec.phantom.contrast import MAX_UINT, acquire, clean_images
from radnec.phantom.deform import MassEffect, planning_to_followup, rigid_transform
from radnec.phantom.dose_model import build_dose, plan_metrics
from radnec.phantom.lesion_fields import (
    NOISE_SIGMA_MM,
    TimepointLesions,
    bubble_cluster,
    distance_to,
    edema_level,
    prescription_for,
    ring_core,
    smooth_noise,
    sphere_level,
)
from radnec.phantom.mass_edema import edema_for_followup_lesion_ratio, mass_effect_size
from radnec.phantom.model import SCENARIOS, TECHNIQUES, PhantomCase, Study, rng_for
from radnec.phantom.resampling import followup_grid, to_followup
from radnec.phantom.truth import pattern_measures
from radnec.phantom.writer import write_case

log = logging.getLogger(__name__)

#: Solid planning lesions at least this radius (mm) get a necrotic core (ring enhancement).
RING_RADIUS_MM = 9.0
#: Smallest lesion radius in voxels (smaller lesions would vanish at coarse --voxel-mm).
MIN_RADIUS_VOXELS = 1.5
#: Base date of the synthetic calendar; the seed shifts it (no real dates).
BASE_DATE = dt.date(2023, 1, 2)


class _Clock:
    """Debug timing of the generator's stages (logged at DEBUG)."""

    def __init__(self) -> None:
        import time

        self._time = time.perf_counter
        self._cpu = time.process_time
        self._t, self._c = self._time(), self._cpu()

    def lap(self, what: str) -> None:
        now, cpu = self._time(), self._cpu()
        log.debug("phantom %s: %.2f s wall, %.2f s cpu", what, now - self._t, cpu - self._c)
        self._t, self._c = now, cpu


def _img(arr: np.ndarray, grid: sitk.Image, pixel: int) -> sitk.Image:
    im = sitk.GetImageFromArray(arr)
    im.CopyInformation(grid)
    return sitk.Cast(im, pixel) if im.GetPixelID() != pixel else im


def _centroid_lps(mask: np.ndarray, grid: sitk.Image) -> np.ndarray:
    idx = np.argwhere(mask).mean(0)[::-1]
    return np.array(grid.TransformContinuousIndexToPhysicalPoint([float(v) for v in idx]))


def _param(values: list, i: int):
    return values[min(i, len(values) - 1)]


def _masks_from_fields(lesion: dict[str, np.ndarray], core: dict[str, np.ndarray], edema: np.ndarray,
                       brain: np.ndarray, csf: np.ndarray, order: list[str] | None = None) -> dict[str, np.ndarray]:
    """Truth masks; lesion ``name`` gets label ``order.index(name) + 1`` (a lesion keeps its label
    when another is absent at a time point)."""
    labels = np.zeros(edema.shape, dtype=np.uint8)
    necrotic = np.zeros(edema.shape, dtype=bool)
    order = order or sorted(lesion)
    for name in sorted(lesion):
        i = order.index(name) + 1
        inside = (lesion[name] > 0) & (labels == 0)
        labels[inside] = i
        necrotic |= inside & (core[name] > 0)
    t1lesion = labels > 0
    return {
        "enhancing": t1lesion & ~necrotic,
        "necrotic": necrotic,
        "edema": (edema > 0) & (brain > 0.5) & (csf < 0.5) & ~t1lesion,
        "lesion_labels": labels,
    }


def build_case(
    scenario: str,
    seed: int,
    *,
    months: list[float] | None = None,
    technique: str = "gk",
    fractions: int = 1,
    voxel_mm: float = 1.0,
    site: str | None = None,
    lesions: int = 1,
    new_lesion: bool = False,
    protocol: str = "research-3d",
    sag3d: str = "some",
    oblique: str = "some",
) -> PhantomCase:
    """Generate one case in memory.

    Parameters
    ----------
    scenario
        One of ``necrosis``, ``infield``, ``marginal``, ``distant``, ``stable``.
    seed
        Non-negative integer; the same seed gives the same case.
    months
        Follow-up times (months after SRS), strictly increasing, > 0.
    technique
        ``gk`` (prescription at the 50 % isodose) or ``linac`` (~80 %).
    fractions
        1, 3 or 5 (ASTRO 2022 dose table in ``scenarios.yaml``).
    voxel_mm
        Isotropic voxel size (mm) of every MR series and of the dose grid.
    site
        Named metastasis site from ``scenarios.yaml`` (default: chosen by the seed).
    lesions
        Number of planned targets (1..15); the scenario's lesion is one of them (by the seed), the
        others respond (:mod:`radnec.phantom.multi`). 1 gives the one-target case unchanged.
    new_lesion
        Add a new metastasis in the low-dose region at the second-last or last follow-up.
    protocol
        ``research-3d`` (3-D T1c and FLAIR at every study) or ``clinical-2d`` (follow-ups as a
        hospital's routine protocol writes them; :mod:`radnec.phantom.protocol`).
    sag3d
        With ``clinical-2d``: a sagittal 3-D post-contrast T1 at ``never``, ``some`` (by the seed) or
        ``always`` follow-ups.
    oblique
        With ``clinical-2d``: axials tilted about the left-right axis at ``never``, ``some`` (at most
        one follow-up, by the seed) or ``always`` follow-ups.
    """
    cfg = load_config()
    from radnec.phantom.protocol import PROTOCOLS, SAG3D

    if not 1 <= int(lesions) <= cfg["multi_target"]["max_lesions"]:
        raise InputError(f"--lesions must be 1..{cfg['multi_target']['max_lesions']}, got {lesions}")
    if protocol not in PROTOCOLS or sag3d not in SAG3D or oblique not in SAG3D:
        raise InputError(f"--protocol must be one of {', '.join(PROTOCOLS)}; --sag3d and --oblique one of {', '.join(SAG3D)}")
    if scenario not in SCENARIOS:
        raise InputError(f"unknown scenario {scenario!r}; choose one of {', '.join(SCENARIOS)}")
    if technique not in TECHNIQUES:
        raise InputError(f"unknown technique {technique!r}; choose gk or linac")
    if seed < 0:
        raise InputError(f"seed must be a non-negative integer, got {seed}")
    months = [float(m) for m in (months if months is not None else cfg["default_months"])]
    if not months or any(m <= 0 for m in months) or any(b <= a for a, b in zip(months, months[1:])):
        raise InputError(f"follow-up months must be positive and strictly increasing, got {months}")
    sc = cfg["scenarios"][scenario]
    fu_cfg = cfg["followup"]
    tech = cfg["technique"][technique]
    anat = build_anatomy(float(voxel_mm))
    grid = anat.grid
    axes = physical_axes(grid)
    spacing_zyx = tuple(float(v) for v in grid.GetSpacing()[::-1])
    voxel_cc = float(np.prod(spacing_zyx)) / MM3_PER_CC
    brain = sitk.GetArrayFromImage(anat.brain) > 0
    csf = sitk.GetArrayFromImage(anat.csf)
    gm = sitk.GetArrayFromImage(anat.gm)

    clock = _Clock()
    # --- planning lesion -------------------------------------------------------------------
    rl = rng_for(seed, scenario, "lesion")
    sites = cfg["anatomy"]["sites"]
    site_names = sorted(sites)
    if site is None:
        site = site_names[int(rl.integers(len(site_names)))]
    elif site not in sites:
        raise InputError(f"unknown site {site!r}; choose one of {', '.join(site_names)}")
    c0 = np.array(sites[site], dtype=float) + rl.uniform(-3, 3, size=3)
    diameter = float(rl.uniform(*sc["gtv_diameter_mm"]))
    r0 = diameter / 2.0
    rx = prescription_for(diameter, fractions, cfg["prescription"])
    sigma_vox = NOISE_SIGMA_MM / voxel_mm
    shape_noise = smooth_noise(rl, brain.shape, sigma_vox)
    edema_noise = smooth_noise(rl, brain.shape, 2 * sigma_vox)
    level0 = sphere_level(axes, c0, r0, shape_noise)
    core0 = ring_core(level0, max(3.0, 0.45 * r0)) if r0 >= RING_RADIUS_MM else np.full_like(level0, -1.0)

    clock.lap("lesion0")
    # --- structures (contour round trip) and dose ------------------------------------------
    gtv_mask = level0 > 0
    ptv_mask = (level0 + tech["ptv_margin_mm"]) > 0
    struct_src = {"GTV": gtv_mask, "PTV": ptv_mask, "Brain": brain,
                  "Brainstem": sitk.GetArrayFromImage(anat.brainstem) > 0}
    contours, structures = {}, {}
    for name, m in struct_src.items():
        contours[name] = mask_to_contours(_img(m.astype(np.uint8), grid, sitk.sitkUInt8))
        if name in ("GTV", "PTV"):  # targets: use exactly what the RTSTRUCT says
            m = contours_to_mask(contours[name], grid)
        structures[name] = _img(m.astype(np.uint8), grid, sitk.sitkUInt8)
    gtv = sitk.GetArrayFromImage(structures["GTV"]) > 0
    ptv = sitk.GetArrayFromImage(structures["PTV"]) > 0
    brain_s = sitk.GetArrayFromImage(structures["Brain"]) > 0
    dcfg = cfg["dose_model"]
    rd = rng_for(seed, scenario, "dose")
    nz = np.argwhere(ptv)
    m = int(np.ceil(dcfg["box_margin_mm"] / voxel_mm))
    lo = np.maximum(nz.min(0) - m, 0)
    hi = np.minimum(nz.max(0) + m + 1, ptv.shape)
    box = tuple(slice(a, b) for a, b in zip(lo, hi))
    dose_arr = build_dose(
        ptv[box], distance_mm=-(level0[box] + tech["ptv_margin_mm"]), spacing_zyx=spacing_zyx, prescription_gy=rx, isodose_fraction=tech["isodose_fraction"],
        ci_target=float(rd.uniform(*dcfg["ci_target"])), gi_target=float(rd.uniform(*dcfg["gi_target"])),
        bath_fraction=dcfg["low_dose_bath_fraction"], bath_length_mm=dcfg["low_dose_bath_length_mm"],
        smoothing_sigma_mm=dcfg["smoothing_sigma_mm"],
    )
    dose_grid = sitk.RegionOfInterest(grid, [int(v) for v in (hi - lo)[::-1]], [int(v) for v in lo[::-1]])
    dose_img = _img(dose_arr.astype(np.float32), dose_grid, sitk.sitkFloat32)
    dose_full = np.zeros(brain.shape, dtype=np.float32)
    dose_full[box] = dose_arr
    metrics = plan_metrics(dose_arr, ptv=ptv[box], gtv=gtv[box], brain=brain_s[box], voxel_cc=voxel_cc,
                           prescription_gy=rx, v12_threshold_gy=dcfg["v12_threshold_gy"])
    piv = dose_full >= rx
    piv50 = dose_full >= 0.5 * rx
    dose_centre = _centroid_lps(piv, grid)
    r_rx = (3.0 * metrics.piv_cc * MM3_PER_CC / (4.0 * np.pi)) ** (1.0 / 3.0)

    clock.lap("dose")
    # --- lesion evolution (planning frame) ----------------------------------------------------
    fields: list[TimepointLesions] = []
    edema_cfg = sc["edema_ratio"]
    planning_tp = TimepointLesions(lesion={"L1": level0}, core={"L1": core0}, edema=None)  # type: ignore[arg-type]
    fields.append(planning_tp)
    index_lesion = "L1"
    names = {"L1": "treated metastasis"}
    if scenario == "marginal":
        c_n = _marginal_centre(dose_img, dose_centre, rx, sc["nodule_isodose"], brain, grid, rl)
    if scenario == "distant":
        c_new = _distant_centre(sites, site, piv50, grid, sc["new_min_distance_mm"] + max(sc["new_radius_mm"]), brain, rl)
        names["L2"] = "new metastasis"
        index_lesion = "L2"
    if scenario == "infield":
        d = rl.normal(size=3); d /= np.linalg.norm(d)
        c_in = dose_centre + d * sc["nodule_offset_fraction"] * r_rx
    if scenario == "necrosis":
        n_b = int(rl.integers(5, 9))
        dirs = rl.normal(size=(n_b, 3)); dirs /= np.linalg.norm(dirs, axis=1, keepdims=True)
        bub = rl.uniform(*sc["bubble_radius_fraction"], size=n_b)
        rim = float(rl.uniform(*sc["rim_mm"]))
        d_ptv = None
    others = None
    if lesions > 1 or new_lesion:
        from radnec.phantom.multi import build_other_lesions

        others, contours, structures, dose_full, dose_img, roi_types, plan_extra = build_other_lesions(
            seed=seed, scenario=scenario, lesions=lesions, new_lesion=new_lesion, cfg=cfg, technique=technique,
            fractions=fractions, anat=anat, axes=axes, shape_noise=shape_noise, level0=level0, c0=c0,
            diameter=diameter, rx=rx, dose_full=dose_full, box=box, metrics=metrics, dose_centre=dose_centre,
            distant=(c_new, max(sc["new_radius_mm"])) if scenario == "distant" else None, months=months,
            contours=contours, structures=structures, voxel_mm=voxel_mm, tech=tech, dcfg=dcfg)
        names.update({t.lesion: f"treated metastasis (target {t.number})" for t in others.targets if t.lesion != "L1"})
        if others.new is not None:
            names["N1"] = "new metastasis (out of field)"
        planning_tp.lesion.update(others.levels)
        no_core = np.full_like(level0, -1.0)
        planning_tp.core.update({k: no_core for k in others.levels})
    order = sorted(names)
    for i, _m in enumerate(months):
        lesion: dict[str, np.ndarray] = {}
        core: dict[str, np.ndarray] = {}
        if scenario == "necrosis":
            if d_ptv is None:
                from radnec.phantom.dose_model import signed_distance_mm
                d_ptv = np.full(brain.shape, 1e3, dtype=np.float32)
                d_ptv[box] = signed_distance_mm(dose_arr >= rx, spacing_zyx)
            s = _param(sc["envelope_scale"], i)
            base = (s - 1.0) * r_rx - d_ptv + sc["rim_irregularity_mm"] * shape_noise
            levels = [base]
            for k in range(n_b):
                cb = dose_centre + dirs[k] * sc["bubble_distance_fraction"] * s * r_rx
                levels.append(sphere_level(axes, cb, bub[k] * s * r_rx, shape_noise, amplitude=0.05))
            lesion["L1"], core["L1"] = bubble_cluster(levels, rim)
        elif scenario == "infield":
            res = sphere_level(axes, c0, r0 * _param(sc["residual_scale"], i), shape_noise)
            nod = sphere_level(axes, c_in, _param(sc["nodule_scale"], i) * r_rx, shape_noise, amplitude=0.06)
            lesion["L1"] = np.maximum(res, nod)
            core["L1"] = np.full_like(res, -1.0)
        elif scenario == "marginal":
            res = sphere_level(axes, c0, r0 * _param(sc["residual_scale"], i), shape_noise)
            r_nod = max(_param(sc["nodule_radius_mm"], i), MIN_RADIUS_VOXELS * voxel_mm)
            nod = sphere_level(axes, c_n, r_nod, shape_noise, amplitude=0.06)
            lesion["L1"] = np.maximum(res, nod)
            core["L1"] = np.full_like(res, -1.0)
        else:  # distant, stable: the treated lesion shrinks
            r_i = r0 * _param(sc["residual_scale"], i)
            lesion["L1"] = sphere_level(axes, c0, r_i, shape_noise)
            core["L1"] = ring_core(lesion["L1"], max(3.0, 0.45 * r_i)) if r_i >= RING_RADIUS_MM else np.full_like(level0, -1.0)
            if scenario == "distant":
                r_new = max(_param(sc["new_radius_mm"], i), MIN_RADIUS_VOXELS * voxel_mm)
                lesion["L2"] = sphere_level(axes, c_new, r_new, shape_noise, amplitude=0.06)
                core["L2"] = np.full_like(level0, -1.0)
        if others is not None:
            from radnec.phantom.multi import followup_fields

            ol, oc = followup_fields(others, i + 1, axes=axes, shape_noise=shape_noise, no_core=no_core)
            lesion.update(ol); core.update(oc)
        fields.append(TimepointLesions(lesion=lesion, core=core, edema=None))  # type: ignore[arg-type]

    clock.lap("evolution")
    # edema per time point: ratio drawn from the scenario's ranges. Default basis: edema / enhancing
    # volume in the planning frame. "lesion" basis (necrosis): Leeman's edema / whole T1c lesion
    # ratio, hit in the FOLLOW-UP frame (the mass effect inflates the lesion more than the edema).
    basis = sc.get("edema_ratio_basis", "enhancing")
    r_other = rng_for(seed, scenario, "targets", 1)
    for t, tp in enumerate(fields):
        ranges = cfg["planning_edema_ratio"] if t == 0 else _param(edema_cfg, t - 1)
        t1lesion = np.zeros(brain.shape, dtype=bool)
        for name in tp.lesion:
            t1lesion |= tp.lesion[name] > 0
        allowed = brain & (csf < 0.5) & ~t1lesion
        ed = np.full(brain.shape, -1.0, dtype=np.float32)
        for name in sorted(tp.lesion):
            les = tp.lesion[name] > 0
            enh_cc = float((les & ~(tp.core[name] > 0)).sum()) * voxel_cc
            if name in ("L1", "L2"):
                ratio = float(rl.uniform(*ranges))
            else:
                ratio = float(r_other.uniform(*(ranges if t == 0 else cfg["multi_target"]["responding_edema_ratio"])))
            c = _centroid_lps(les, grid)
            dist_eff = distance_to(axes, c) * (1.0 + 0.25 * edema_noise) * (1.0 + 1.5 * gm)
            dist_eff = np.where(les, 0.0, dist_eff).astype(np.float32)
            if t > 0 and basis == "lesion" and name == "L1" and "L2" not in tp.lesion:
                level = edema_for_followup_lesion_ratio(
                    dist_eff=dist_eff, allowed=allowed, lesion=les, ratio=ratio, centre=c, axes=axes,
                    voxel_cc=voxel_cc, fu_cfg=fu_cfg)
            else:
                level = edema_level(dist_eff=dist_eff, allowed=allowed, target_cc=ratio * enh_cc, voxel_cc=voxel_cc)
            ed = np.maximum(ed, level)
            tp.edema_ratio_target[name] = ratio
            tp.centres[name] = c
        tp.edema = ed

    clock.lap("edema")
    # --- synthesise studies --------------------------------------------------------------------
    rdates = rng_for(seed, scenario, "dates")
    srs_date = BASE_DATE + dt.timedelta(days=int(rdates.integers(0, 720)))
    plan_mr_date = srs_date - dt.timedelta(days=int(rdates.integers(2, 9)))
    t1 = sitk.GetArrayFromImage(anat.t1); wm = sitk.GetArrayFromImage(anat.wm)
    brain_f = brain.astype(np.float32)
    tissue = dict(t1=t1, gm=gm, wm=wm, csf=csf, brain=brain_f)
    studies: list[Study] = []
    brain_centre = _centroid_lps(brain, grid)
    rr = rng_for(seed, scenario, "rigid")
    if protocol == "clinical-2d":
        from radnec.phantom.protocol import plan_protocol

        proto_plan = plan_protocol(rng_for(seed, scenario, "protocol"), n_followups=len(months), sag3d=sag3d,
                                   oblique=oblique)
    for i, tp in enumerate(fields):
        pm = _masks_from_fields(tp.lesion, tp.core, tp.edema, brain_f, csf, order)
        img_t1c, img_flair = clean_images(**tissue, enhancing=pm["enhancing"], core=pm["necrotic"], edema=pm["edema"])
        rn = rng_for(seed, scenario, "noise", i)
        if i == 0:
            acq = dict(rng=rn, noise_fraction=fu_cfg["noise_fraction"], bias_amplitude=0.5 * fu_cfg["bias_amplitude"])
            studies.append(Study(
                label="planning", months=0.0, days_since_srs=(plan_mr_date - srs_date).days, date=plan_mr_date,
                grid=grid,
                images={"T1c": _img(acquire(img_t1c, **acq), grid, sitk.sitkUInt16),
                        "FLAIR": _img(acquire(img_flair, **acq), grid, sitk.sitkUInt16)},
                masks={k: _img(v.astype(np.uint8), grid, sitk.sitkUInt8) for k, v in pm.items()},
                planning_masks=pm,
            ))
            _add_seeds(studies[-1], order)
            continue
        mo = months[i - 1]
        rigid = rigid_transform(rr, centre=brain_centre, min_deg=fu_cfg["rigid_min_deg"], max_deg=fu_cfg["rigid_max_deg"],
                                min_mm=fu_cfg["rigid_min_mm"], max_mm=fu_cfg["rigid_max_mm"])
        amp, support = mass_effect_size(lesion_cc=np.isin(pm["lesion_labels"], [order.index(n) + 1 for n in ("L1", "L2")
                                                                                if n in order]).sum() * voxel_cc,
                                         l1_cc=(pm["lesion_labels"] == 1).sum() * voxel_cc,
                                         edema_cc=pm["edema"].sum() * voxel_cc, fu_cfg=fu_cfg)
        mass = MassEffect(tuple(float(v) for v in tp.centres["L1"]), amp, support)
        fgrid = followup_grid(grid, rigid, pad_mm=10.0)
        fshape = fgrid.GetSize()[::-1]
        clock.lap(f"fu{i} prep")
        r_t1c, r_flair = to_followup([img_t1c, img_flair], [0.0, 0.0], grid=grid, fgrid=fgrid, rigid=rigid, mass=mass)
        names_l = sorted(tp.lesion)
        edema_allowed = np.where((brain_f > 0.5) & (csf < 0.5), tp.edema, np.minimum(tp.edema, -1.0))
        truth_fields = [tp.lesion[n] for n in names_l] + [tp.core[n] for n in names_l] + [edema_allowed]
        sampled = []
        done: dict[int, np.ndarray] = {}   # a field shared by several lesions (an empty core) is sampled once
        for f in truth_fields:  # each field only where it can be positive (its own small box)
            if id(f) in done:
                sampled.append(done[id(f)])
                continue
            nz = np.argwhere(f > -1.0)
            if nz.size == 0:
                sampled.append(np.full(fshape, -1.0, dtype=np.float32))
            else:
                pbox = (np.maximum(nz.min(0) - 2, 0), np.minimum(nz.max(0) + 3, brain.shape))
                sampled += to_followup([f], [-1.0], grid=grid, fgrid=fgrid, rigid=rigid, mass=mass, planning_box=pbox)
            done[id(f)] = sampled[-1]
        clock.lap(f"fu{i} resample")
        nl = len(names_l)
        les = {n: sampled[j] for j, n in enumerate(names_l)}
        cor = {n: sampled[nl + j] for j, n in enumerate(names_l)}
        ed = sampled[2 * nl]
        ones = np.ones(fshape, dtype=np.float32)
        fm = _masks_from_fields(les, cor, ed, ones, 1.0 - ones, order)
        acq = dict(rng=rn, noise_fraction=fu_cfg["noise_fraction"], bias_amplitude=fu_cfg["bias_amplitude"])
        days = int(round(mo * fu_cfg["days_per_month"]))
        st = Study(
            label=f"fu{i}", months=mo, days_since_srs=days, date=srs_date + dt.timedelta(days=days), grid=fgrid,
            images={"T1c": _img(_scanner(r_t1c, protocol, acq), fgrid, sitk.sitkUInt16),
                    "FLAIR": _img(_scanner(r_flair, protocol, acq), fgrid, sitk.sitkUInt16)},
            masks={k: _img(v.astype(np.uint8), fgrid, sitk.sitkUInt8) for k, v in fm.items()},
            transform=planning_to_followup(rigid, mass, spacing_mm=fu_cfg["field_spacing_mm"]),
            rigid=rigid, mass=mass, planning_masks=pm,
        )
        _add_seeds(st, order)
        if protocol == "clinical-2d":
            from radnec.phantom.protocol import routine_series

            st.series, st.protocol_facts = routine_series(
                proto_plan, i, tissue=tissue, pm=pm, followup={"T1c": r_t1c, "FLAIR": r_flair}, grid=grid, fgrid=fgrid,
                rigid=rigid, mass=mass, centre_lps=np.array(rigid.TransformPoint(brain_centre.tolist())),
                voxel_mm=voxel_mm, rng=rng_for(seed, scenario, "protocol", i), fu_cfg=fu_cfg)
        studies.append(st)

    clock.lap("studies")
    case = PhantomCase(
        scenario=scenario, seed=seed, technique=technique, fractions=fractions, voxel_mm=float(voxel_mm),
        months=months, anatomy=anat, site=site, gtv_diameter_mm=diameter, structures=structures,
        contours=contours, dose=dose_img, dose_on_planning=dose_full, metrics=metrics, prescription_gy=rx,
        isodose_fraction=metrics.isodose_fraction, srs_date=srs_date, studies=studies,
        index_lesion=index_lesion, lesion_names=names, others=others, protocol=protocol,
        roi_types=roi_types if others is not None else None, plan_extra=plan_extra if others is not None else {},
    )
    case.pattern_measures = [pattern_measures(case, st) for st in studies[1:]]
    clock.lap("truth")
    return case


def _scanner(clean: np.ndarray, protocol: str, acq: dict) -> np.ndarray:
    """The 3-D follow-up image as acquired (research-3d) or, for clinical-2d follow-ups (whose 3-D
    T1c/FLAIR are not written; only the montage shows them), the noise-free signal in uint16."""
    if protocol == "research-3d":
        return acquire(clean, **acq)
    return np.clip(np.rint(clean), 0, MAX_UINT).astype(np.uint16)


def _add_seeds(study: Study, order: list[str]) -> None:
    """Seed point per lesion in the study's own frame: the enhancing voxel nearest to the lesion
    centroid (so a region grower started there lands in enhancing tissue)."""
    labels = sitk.GetArrayFromImage(study.masks["lesion_labels"])
    enh = sitk.GetArrayFromImage(study.masks["enhancing"]) > 0
    for j in range(1, int(labels.max()) + 1):
        name = order[j - 1]
        comp = labels == j
        if not comp.any():
            continue
        c = np.argwhere(comp).mean(0)
        cand = np.argwhere(comp & enh)
        if cand.size == 0:
            cand = np.argwhere(comp)
        best = cand[np.argmin(((cand - c) ** 2).sum(1))]
        study.seeds_lps[name] = list(study.grid.TransformIndexToPhysicalPoint([int(v) for v in best[::-1]]))
        study.centres_lps[name] = list(study.grid.TransformContinuousIndexToPhysicalPoint([float(v) for v in c[::-1]]))


def _marginal_centre(dose_img, dose_centre, rx, iso, brain, grid, rng) -> np.ndarray:
    """Point where the dose equals ``iso * rx`` along a ray from the dose centre towards the
    brain interior (randomised within 60°)."""
    bc = _centroid_lps(brain, grid)
    to_c = bc - dose_centre
    to_c /= np.linalg.norm(to_c)
    arr = sitk.GetArrayFromImage(dose_img)
    for _ in range(50):
        d = to_c + rng.normal(scale=0.6, size=3)
        d /= np.linalg.norm(d)
        prev = None
        for step in np.arange(0.0, 60.0, 0.1):
            p = dose_centre + d * step
            idx = dose_img.TransformPhysicalPointToContinuousIndex(p.tolist())
            ii = np.round(idx).astype(int)[::-1]
            if np.any(ii < 0) or np.any(ii >= arr.shape):
                break
            val = _trilinear(arr, np.array(idx)[::-1])
            if val <= iso * rx:
                prev = p
                break
        if prev is not None:
            k = grid.TransformPhysicalPointToIndex(prev.tolist())[::-1]
            if brain[k]:
                return prev
    raise InputError("could not place a marginal nodule inside the brain; try another seed")


def _trilinear(arr: np.ndarray, idx: np.ndarray) -> float:
    return float(map_coordinates(arr, idx.reshape(3, 1), order=1, mode="nearest")[0])


def _distant_centre(sites, site, piv50, grid, min_mm, brain, rng) -> np.ndarray:
    pts = np.argwhere(piv50)[:, ::-1]
    phys = np.array(grid.GetOrigin()) + pts * np.array(grid.GetSpacing())
    options = []
    for name in sorted(sites):
        if name == site:
            continue
        c = np.array(sites[name], dtype=float)
        if np.sqrt(((phys - c) ** 2).sum(1)).min() >= min_mm:
            options.append(c)
    if not options:
        raise InputError("no site is far enough from the 50 % isodose for a distant metastasis")
    return options[int(rng.integers(len(options)))] + rng.uniform(-2, 2, size=3)


def generate_case(
    scenario: str,
    seed: int,
    out: str | Path,
    *,
    months: list[float] | None = None,
    technique: str = "gk",
    fractions: int = 1,
    voxel_mm: float = 1.0,
    site: str | None = None,
    montage: bool = False,
    lesions: int = 1,
    new_lesion: bool = False,
    protocol: str = "research-3d",
    sag3d: str = "some",
    oblique: str = "some",
) -> dict:
    """Generate a case and write it to ``out`` (DICOM + ``truth.json``); return the truth dict.

    See :func:`build_case` for the parameters; ``montage`` also writes ``montage.png``."""
    case = build_case(scenario, seed, months=months, technique=technique, fractions=fractions,
                      voxel_mm=voxel_mm, site=site, lesions=lesions, new_lesion=new_lesion, protocol=protocol,
                      sag3d=sag3d, oblique=oblique)
    truth = write_case(case, Path(out))
    if montage:
        from radnec.phantom.montage import save_montage

        save_montage(case, Path(out) / "montage.png")
    return truth
