"""The other lesions of a multi-target phantom: responding targets, their structures and summed
dose, and the optional new out-of-field metastasis (``radnec phantom --lesions N --new-lesion``).

Each target gets its own dose model (:func:`radnec.phantom.dose_model.build_dose`, normalised to
its own prescription at the plan's isodose line); the RTDOSE holds their sum, so the low-dose
spill of neighbours adds a little to each target, as in a real single-isocentre plan. The index
lesion (the scenario's, ``L1``) is built by :func:`radnec.phantom.generate.build_case` exactly as
in a one-target case; this module adds the rest around it.
"""

from __future__ import annotations

import numpy as np
import SimpleITK as sitk

from radnec.geometry import MM3_PER_CC
from radnec.phantom.contours import contours_to_mask, mask_to_contours
from radnec.phantom.dose_model import build_dose, signed_distance_mm
from radnec.phantom.lesion_fields import sphere_level
from radnec.phantom.model import OtherLesions, rng_for
from radnec.phantom.targets import (
    CONVENTIONS,
    Target,
    brain_depth_mm,
    new_lesion_centre,
    place_targets,
    roi_names,
    rtog_prescription_gy,
)


def _zyx(grid: sitk.Image) -> tuple[float, float, float]:
    sx, sy, sz = (float(v) for v in grid.GetSpacing())
    return (sz, sy, sx)


def plan_targets(rng: np.random.Generator, *, n: int, cfg: dict, technique: str, fractions: int, anat,
                 axes, shape_noise: np.ndarray, occupied: list[tuple[np.ndarray, float]], index: dict,
                 n_followups: int, min_radius_mm: float) -> tuple[OtherLesions, np.ndarray]:
    """Place ``n - 1`` responding targets around the index lesion and name all ``n``.

    ``index`` holds the index lesion's ``centre`` (LPS mm), ``diameter_mm`` and ``prescription_gy``.
    Returns the lesions and the brain depth map (mm) for :func:`add_new_lesion`."""
    mt = cfg["multi_target"]
    grid = anat.grid
    brain = sitk.GetArrayFromImage(anat.brain) > 0
    forbidden = sitk.GetArrayFromImage(anat.brainstem) > 0
    depth = brain_depth_mm(brain, _zyx(grid))
    pts = (np.array(grid.GetOrigin()), np.array(grid.GetSpacing()))
    placed = place_targets(rng, n=n - 1, depth_mm=depth, forbidden=forbidden, grid_points=pts,
                           occupied=occupied, cfg=mt, min_radius_mm=min_radius_mm)
    index_number = int(rng.integers(1, n + 1))
    conventions = [c for c in CONVENTIONS if technique == "gk" or c != "matrix"]
    targets: list[Target] = []
    taken: set[str] = set()
    others = iter(placed)
    out = OtherLesions(targets=targets, index_target=index_number)
    for number in range(1, n + 1):
        conv = conventions[int(rng.integers(len(conventions)))]
        if number == index_number:
            centre, diameter, rx, lesion = np.asarray(index["centre"]), index["diameter_mm"], index["prescription_gy"], "L1"
        else:
            centre, diameter = next(others)
            rx = rtog_prescription_gy(diameter_mm=diameter, fractions=fractions, cfg=cfg)
            lesion = f"T{number:02d}"
            r = max(diameter / 2.0, min_radius_mm)
            out.levels[lesion] = sphere_level(axes, centre, r, shape_noise)
            out.radii[lesion] = r
            lo, hi = (float(v) for v in mt["responding_scale"])
            s = np.minimum.accumulate(rng.uniform(lo, hi, size=n_followups))
            out.scales[lesion] = [float(v) for v in s]
        gtv, ptv = roi_names(convention=conv, number=number, centre_lps=centre, technique=technique, taken=taken)
        taken.update({gtv, ptv or ""})
        targets.append(Target(number=number, lesion=lesion, centre_lps=(float(centre[0]), float(centre[1]), float(centre[2])),
                              diameter_mm=float(diameter), prescription_gy=float(rx), gtv_name=gtv, ptv_name=ptv,
                              convention=conv))
    return out, depth


def target_structures(others: OtherLesions, *, index_level: np.ndarray, ptv_margin_mm: float, grid: sitk.Image,
                      base: dict[str, list[np.ndarray]]) -> tuple[dict, dict, dict, dict]:
    """Contours (TPS names, plan order, then the organs of ``base``), RT ROI interpreted types, and
    planning-grid GTV/PTV masks per lesion name rasterised from the written contours."""
    contours: dict[str, list[np.ndarray]] = {}
    types: dict[str, str] = {}
    gtvs: dict[str, sitk.Image] = {}
    ptvs: dict[str, sitk.Image] = {}
    for t in others.targets:
        level = index_level if t.lesion == "L1" else others.levels[t.lesion]
        for kind, lvl, name in (("GTV", level, t.gtv_name), ("PTV", level + ptv_margin_mm, t.ptv_name)):
            if name is None:
                continue
            m = sitk.GetImageFromArray((lvl > 0).astype(np.uint8))
            m.CopyInformation(grid)
            contours[name] = mask_to_contours(m)
            types[name] = kind
            mask = sitk.GetImageFromArray(np.asarray(contours_to_mask(contours[name], grid)).astype(np.uint8))
            mask.CopyInformation(grid)
            (gtvs if kind == "GTV" else ptvs)[t.lesion] = mask
        if t.ptv_name is None:   # GammaPlan: the matrix is the treated volume
            ptvs[t.lesion] = gtvs[t.lesion]
    for name in ("Brain", "Brainstem"):
        contours[name] = base[name]
        types[name] = "ORGAN"
    return contours, types, gtvs, ptvs


def summed_dose(others: OtherLesions, *, dose_full: np.ndarray, index_box: tuple[slice, ...], ptvs: dict,
                ptv_margin_mm: float, isodose_fraction: float, dcfg: dict, rng: np.random.Generator,
                grid: sitk.Image) -> tuple[np.ndarray, sitk.Image]:
    """Add each responding target's own dose model to ``dose_full`` (Gy, planning grid, in place)
    and return it with the RTDOSE image over the union of the targets' dose boxes."""
    spacing_zyx = _zyx(grid)
    vox = float(np.mean(spacing_zyx))
    los, his = [np.array([s.start for s in index_box])], [np.array([s.stop for s in index_box])]
    for t in others.targets:
        if t.lesion == "L1":
            continue
        ptv = np.asarray(sitk.GetArrayFromImage(ptvs[t.lesion]) > 0)
        nz = np.argwhere(ptv)
        m = int(np.ceil(dcfg["box_margin_mm"] / vox))
        lo = np.maximum(nz.min(0) - m, 0)
        hi = np.minimum(nz.max(0) + m + 1, ptv.shape)
        box = tuple(slice(a, b) for a, b in zip(lo, hi))
        d = build_dose(
            ptv[box], distance_mm=-(others.levels[t.lesion][box] + ptv_margin_mm), spacing_zyx=spacing_zyx,
            prescription_gy=t.prescription_gy, isodose_fraction=isodose_fraction,
            ci_target=float(rng.uniform(*dcfg["ci_target"])), gi_target=float(rng.uniform(*dcfg["gi_target"])),
            bath_fraction=dcfg["low_dose_bath_fraction"], bath_length_mm=dcfg["low_dose_bath_length_mm"],
            smoothing_sigma_mm=dcfg["smoothing_sigma_mm"],
        )
        dose_full[box] += d.astype(np.float32)
        los.append(lo)
        his.append(hi)
    lo, hi = np.min(los, axis=0), np.max(his, axis=0)
    union = tuple(slice(int(a), int(b)) for a, b in zip(lo, hi))
    img = sitk.GetImageFromArray(np.ascontiguousarray(dose_full[union]).astype(np.float32))
    img.CopyInformation(sitk.RegionOfInterest(grid, [int(v) for v in (hi - lo)[::-1]], [int(v) for v in lo[::-1]]))
    return dose_full, img


def add_new_lesion(others: OtherLesions, rng: np.random.Generator, *, cfg: dict, anat, depth_mm: np.ndarray,
                   ptvs: dict, dose_full: np.ndarray, occupied: list[tuple[np.ndarray, float]],
                   n_followups: int, min_radius_mm: float) -> None:
    """Place the new out-of-field metastasis (absent at planning) appearing at the second-last or
    last follow-up (by the seed), in the low-dose region (see ``scenarios.yaml`` → ``multi_target``)."""
    mt = cfg["multi_target"]
    grid = anat.grid
    spacing_zyx = _zyx(grid)
    union = np.zeros(dose_full.shape, dtype=bool)
    for m in ptvs.values():
        union |= sitk.GetArrayViewFromImage(m) > 0
    dist = signed_distance_mm(union, spacing_zyx)
    r_first, r_next = (max(r, min_radius_mm) for r in mt["new_lesion_radius_mm"])
    max_dose = mt["new_lesion_max_dose_fraction"] * min(t.prescription_gy for t in others.targets)
    c = new_lesion_centre(rng, depth_mm=depth_mm, forbidden=sitk.GetArrayViewFromImage(anat.brainstem) > 0,
                          ptv_distance_mm=dist, dose_gy=dose_full, max_dose_gy=max_dose,
                          grid_points=(np.array(grid.GetOrigin()), np.array(grid.GetSpacing())),
                          occupied=occupied, radius_mm=r_next, cfg=mt)
    first = n_followups if n_followups < 2 else n_followups - int(rng.integers(0, 2))
    radii = {i: (r_first if i == first else r_next) for i in range(first, n_followups + 1)}
    others.new = (c, radii)
    occupied.append((c, r_next))


def followup_fields(others: OtherLesions, i: int, *, axes, shape_noise: np.ndarray,
                    no_core: np.ndarray) -> tuple[dict[str, np.ndarray], dict[str, np.ndarray]]:
    """Lesion and core level fields of the other lesions at time point ``i`` (0 = planning)."""
    lesion, core = {}, {}
    for name, lvl in others.levels.items():
        if i == 0:
            lesion[name] = lvl
        else:
            c = np.asarray(next(t.centre_lps for t in others.targets if t.lesion == name))
            lesion[name] = sphere_level(axes, c, others.radii[name] * others.scales[name][i - 1], shape_noise)
        core[name] = no_core
    if others.new is not None and i in others.new[1]:
        lesion["N1"] = sphere_level(axes, others.new[0], others.new[1][i], shape_noise, amplitude=0.06)
        core["N1"] = no_core
    return lesion, core


def v12_all_targets_cc(dose_full: np.ndarray, *, brain: np.ndarray, gtvs: dict, voxel_cc: float,
                       threshold_gy: float) -> float:
    """V12 of the plan: brain minus every GTV receiving ≥ ``threshold_gy`` (cm³)."""
    allg = np.zeros(brain.shape, dtype=bool)
    for m in gtvs.values():
        allg |= sitk.GetArrayViewFromImage(m) > 0
    return float(((dose_full >= threshold_gy) & brain & ~allg).sum()) * voxel_cc


def r50_mm(piv50_cc: float) -> float:
    """Equivalent-sphere radius (mm) of the 50 % isodose volume (cm³)."""
    return float((3.0 * piv50_cc * MM3_PER_CC / (4.0 * np.pi)) ** (1.0 / 3.0))


__all__ = ["plan_targets", "target_structures", "summed_dose", "add_new_lesion",
           "followup_fields", "v12_all_targets_cc", "r50_mm", "build_other_lesions"]


def build_other_lesions(*, seed: int, scenario: str, lesions: int, new_lesion: bool, cfg: dict, technique: str,
                        fractions: int, anat, axes, shape_noise: np.ndarray, level0: np.ndarray, c0: np.ndarray,
                        diameter: float, rx: float, dose_full: np.ndarray, box: tuple[slice, ...], metrics,
                        dose_centre: np.ndarray, distant: tuple[np.ndarray, float] | None, months: list[float],
                        contours: dict, structures: dict, voxel_mm: float, tech: dict, dcfg: dict):
    """Everything a multi-target (or new-lesion) case adds to the one-target case built by
    :func:`radnec.phantom.generate.build_case`: the other targets, the RTSTRUCT contours under TPS
    names, the summed dose and the new lesion.

    Returns ``(others, contours, structures, dose_full, dose_img, roi_types, plan_extra)``;
    ``structures`` keeps ``GTV``/``PTV`` for the index target and adds ``GTV:<lesion>``/``PTV:<lesion>``
    for every target.
    """
    rt = rng_for(seed, scenario, "targets")
    mt = cfg["multi_target"]
    min_r = 1.5 * voxel_mm
    grid = anat.grid
    r_index = max(diameter / 2.0, r50_mm(metrics.piv50_cc)) + mt["index_growth_allowance_mm"]
    occupied: list[tuple[np.ndarray, float]] = [(np.asarray(dose_centre), r_index), (np.asarray(c0), diameter / 2.0)]
    if distant is not None:
        occupied.append(distant)
    others, depth = plan_targets(rt, n=lesions, cfg=cfg, technique=technique, fractions=fractions, anat=anat,
                                 axes=axes, shape_noise=shape_noise, occupied=occupied,
                                 index={"centre": c0, "diameter_mm": diameter, "prescription_gy": rx},
                                 n_followups=len(months), min_radius_mm=min_r)
    if lesions > 1:
        contours, roi_types, gtvs, ptvs = target_structures(others, index_level=level0,
                                                            ptv_margin_mm=tech["ptv_margin_mm"], grid=grid, base=contours)
    else:
        roi_types = {"GTV": "GTV", "PTV": "PTV", "Brain": "ORGAN", "Brainstem": "ORGAN"}
        gtvs, ptvs = {"L1": structures["GTV"]}, {"L1": structures["PTV"]}
    structures = dict(structures)
    for name in gtvs:
        structures[f"GTV:{name}"] = gtvs[name]
        structures[f"PTV:{name}"] = ptvs[name]
    dose_full, dose_img = summed_dose(others, dose_full=dose_full, index_box=box, ptvs=ptvs,
                                      ptv_margin_mm=tech["ptv_margin_mm"], isodose_fraction=tech["isodose_fraction"],
                                      dcfg=dcfg, rng=rt, grid=grid)
    if new_lesion:
        add_new_lesion(others, rt, cfg=cfg, anat=anat, depth_mm=depth, ptvs=ptvs, dose_full=dose_full,
                       occupied=occupied, n_followups=len(months), min_radius_mm=min_r)
    brain = sitk.GetArrayViewFromImage(structures["Brain"]) > 0
    voxel_cc = float(np.prod(grid.GetSpacing())) / MM3_PER_CC
    plan_extra = {
        "v12_cc_all_targets": v12_all_targets_cc(dose_full, brain=brain, gtvs=gtvs, voxel_cc=voxel_cc,
                                                 threshold_gy=dcfg["v12_threshold_gy"]),
        "n_targets": lesions,
        "index_target": others.index_target,
    }
    return others, contours, structures, dose_full, dose_img, roi_types, plan_extra
