"""Per-time-point lesion measures: volumes, RANO-BM diameters, edema ratio, pattern, LQ, sphericity.

Definitions (citations in ``conventions.yaml``):

``lesion_cc``
    T1c lesion = enhancing ∪ enclosed non-enhancing core (cm³, anisotropic voxels counted by
    their true volume).
``edema_enhancement_ratio``
    Leeman 2013 edema/lesion volume ratio ("high T2/T1c"): ``edema_cc / lesion_cc`` where
    ``edema_cc`` is the perilesional FLAIR/T2 hyperintensity *outside* the T1c lesion and
    ``lesion_cc`` the whole T1c lesion (enhancing + enclosed non-enhancing core) — the
    project-wide definition used by the evidence engine (cut-off 10) and the phantom truth.
    ``edema_to_enhancing_ratio`` = ``edema_cc / enhancing_cc`` (core excluded) is reported beside
    it for information; both coincide when enhancing and necrotic are not separated.
``necrotic_fraction``
    necrotic_cc / lesion_cc.
``enhancement_pattern``
    ``"rim"`` when necrotic_fraction ≥ ``rim_min_necrotic_fraction`` (radnec convention), else
    ``"solid"``.
``lesion_quotient``
    Stockham 2012: maximal axial area of the T2 nodule (lesion voxels not hyperintense on T2) over
    the maximal axial area of the T1c lesion; reported only (found uninformative).
``sphericity``
    π^(1/3) (6V)^(2/3) / A with V and A from a marching-cubes surface (scikit-image) at the 0.5
    level of the lesion mask (1 for a sphere).
"""

from __future__ import annotations

import math
from typing import Literal

import numpy as np
import SimpleITK as sitk
from pydantic import BaseModel, Field
from scipy import ndimage as ndi

from radnec.errors import InputError
from radnec.geometry import MM3_PER_CC, mask_volume_cc, require_same_grid
from radnec.lesion.conventions import Compartments, load_conventions_file
from radnec.lesion.rano_bm import axial_diameters, axial_slices, measurability


class TimepointMeasures(BaseModel):
    """Measures of one lesion at one time point (fields follow the analysis JSON contract)."""

    date: str | None = Field(None, description="YYYY-MM-DD of the MRI")
    days_since_srs: int | None = Field(None, description="days since the first SRS fraction")
    enhancing_cc: float = Field(description="enhancing volume, cm³")
    edema_cc: float | None = Field(None, description="peritumoral FLAIR/T2 hyperintensity outside the T1c lesion, cm³")
    necrotic_cc: float | None = Field(None, description="non-enhancing/necrotic/cystic core, cm³")
    lesion_cc: float = Field(description="T1c lesion (enhancing + core), cm³")
    longest_diameter_mm: float = Field(description="RANO-BM longest axial diameter, mm")
    perpendicular_diameter_mm: float = Field(description="diameter perpendicular to it on the same axial slice, mm")
    diameter_slice_s_mm: float | None = Field(None, description="patient S coordinate of the measured slice, mm")
    axial_slices: int = Field(description="axial slices on which the lesion is visible")
    slice_thickness_mm: float
    rano_bm_measurable: bool
    measurability: str
    edema_enhancement_ratio: float | None = Field(
        None, description="Leeman 2013 edema/lesion volume ratio: edema_cc / lesion_cc (whole T1c lesion, core included)"
    )
    edema_to_enhancing_ratio: float | None = Field(None, description="edema_cc / enhancing_cc (necrotic core excluded; information only)")
    necrotic_fraction: float | None = None
    enhancement_pattern: Literal["solid", "rim"] | None = None
    lesion_quotient: float | None = None
    sphericity: float | None = None
    steroid_dexamethasone_mg_per_day: float | None = None
    segmentation_source: str = ""
    notes: list[str] = Field(default_factory=list)


def _morph_rules() -> dict:
    return load_conventions_file()["morphology"]


def sphericity(mask: sitk.Image) -> float | None:
    """Sphericity of a mask from a marching-cubes mesh (None for < 2 voxels)."""
    from skimage.measure import marching_cubes, mesh_surface_area

    arr = sitk.GetArrayFromImage(mask).astype(np.float32)
    if np.count_nonzero(arr) < 2:
        return None
    arr = np.pad(arr, 1)
    spacing = tuple(float(v) for v in mask.GetSpacing()[::-1])
    verts, faces, _, _ = marching_cubes(arr, level=0.5, spacing=spacing)
    area = float(mesh_surface_area(verts, faces))
    tri = verts[faces]
    volume = abs(float(np.einsum("ij,ij->i", tri[:, 0], np.cross(tri[:, 1], tri[:, 2])).sum()) / 6.0)
    if area <= 0 or volume <= 0:
        return None
    return float(math.pi ** (1 / 3) * (6 * volume) ** (2 / 3) / area)


def lesion_quotient(lesion: sitk.Image, t2: sitk.Image, *, edema: sitk.Image | None = None) -> float | None:
    """Stockham lesion quotient: max axial T2-nodule area / max axial T1c-lesion area.

    The T2 nodule is the part of the lesion that is not hyperintense on T2: voxels below the
    half-contrast between normal tissue (shell 5–15 mm around the lesion, edema excluded) and the
    lesion's T2-hyperintense voxels (above normal + 2 robust SD).
    """
    require_same_grid(lesion, t2, what="the lesion mask and the T2 image (resample the T2 onto the T1c first)")
    les = sitk.GetArrayViewFromImage(lesion) > 0
    if not les.any():
        return None
    arr = sitk.GetArrayViewFromImage(t2).astype(np.float64)
    spacing = np.asarray(t2.GetSpacing())[::-1]
    dist = ndi.distance_transform_edt(~les, sampling=spacing)
    shell = (dist >= 5.0) & (dist <= 15.0) & (arr > 0)
    if edema is not None:
        shell &= ~(sitk.GetArrayViewFromImage(edema) > 0)
    if shell.sum() < 20:
        return None
    med = float(np.median(arr[shell]))
    sd = 1.4826 * float(np.median(np.abs(arr[shell] - med))) or float(np.std(arr[shell])) or 1.0
    hyper = les & (arr > med + 2.0 * sd)
    thr = 0.5 * (float(arr[hyper].mean()) + med) if hyper.any() else med + 2.0 * sd
    nodule = les & (arr < thr)
    nod_img = sitk.GetImageFromArray(nodule.astype(np.uint8))
    nod_img.CopyInformation(lesion)
    a_les = axial_slices(lesion)
    a_nod = axial_slices(lesion, values=nod_img)
    area_les = float((a_les.slices >= 0.5).sum(axis=(1, 2)).max()) * a_les.pixel_area_mm2
    area_nod = float((a_nod.slices >= 0.5).sum(axis=(1, 2)).max()) * a_nod.pixel_area_mm2
    return area_nod / area_les if area_les > 0 else None


def measure_timepoint(
    compartments: Compartments,
    *,
    t2: sitk.Image | None = None,
    date: str | None = None,
    days_since_srs: int | None = None,
    steroid_mg_per_day: float | None = None,
) -> TimepointMeasures:
    """Measure one lesion at one time point.

    Parameters
    ----------
    compartments
        Masks on one grid (from :mod:`radnec.lesion.labels` or :mod:`radnec.lesion.segment`).
        When enhancing/necrotic are not separated, ``enhancing_cc`` is the whole T1c lesion and
        the necrotic measures are None (a note says so).
    t2
        T2 image on the same grid, for the lesion quotient.
    date, days_since_srs, steroid_mg_per_day
        Time point metadata (dexamethasone-equivalent mg/day).
    """
    lesion = compartments.lesion
    for name, m in compartments.masks().items():
        require_same_grid(lesion, m, what=f"the lesion and {name} masks")
    lesion_cc = mask_volume_cc(lesion)
    if lesion_cc <= 0:
        raise InputError("the T1c lesion mask is empty: nothing to measure")
    notes = list(compartments.notes)
    rules = _morph_rules()
    if compartments.enhancing is not None:
        enhancing_cc = mask_volume_cc(compartments.enhancing)
        necrotic_cc = mask_volume_cc(compartments.necrotic) if compartments.necrotic is not None else 0.0
    else:
        enhancing_cc, necrotic_cc = lesion_cc, None
        notes.append("the segmentation does not separate enhancing from necrotic: enhancing_cc is the whole T1c lesion")
    edema_cc = mask_volume_cc(compartments.edema) if compartments.edema is not None else None
    d = axial_diameters(lesion)
    thickness = float(lesion.GetSpacing()[2])
    measurable, why = measurability(d, slice_thickness_mm=thickness)
    if d.resampled_to_axial:
        notes.append("non-axial acquisition: diameters measured after resampling the mask to the patient axial plane")
    necrotic_fraction = None if necrotic_cc is None else necrotic_cc / lesion_cc
    pattern = None
    if necrotic_fraction is not None:
        pattern = "rim" if necrotic_fraction >= rules["enhancement_pattern"]["rim_min_necrotic_fraction"] else "solid"
    lq = lesion_quotient(lesion, t2, edema=compartments.edema) if t2 is not None else None
    return TimepointMeasures(
        date=date,
        days_since_srs=days_since_srs,
        enhancing_cc=enhancing_cc,
        edema_cc=edema_cc,
        necrotic_cc=necrotic_cc,
        lesion_cc=lesion_cc,
        longest_diameter_mm=d.longest_mm,
        perpendicular_diameter_mm=d.perpendicular_mm,
        diameter_slice_s_mm=d.slice_s_mm,
        axial_slices=d.n_slices,
        slice_thickness_mm=thickness,
        rano_bm_measurable=measurable,
        measurability=why,
        edema_enhancement_ratio=None if edema_cc is None else edema_cc / lesion_cc,
        edema_to_enhancing_ratio=None if edema_cc is None or enhancing_cc <= 0 else edema_cc / enhancing_cc,
        necrotic_fraction=necrotic_fraction,
        enhancement_pattern=pattern,
        lesion_quotient=lq,
        sphericity=sphericity(lesion),
        steroid_dexamethasone_mg_per_day=steroid_mg_per_day,
        segmentation_source=compartments.source,
        notes=notes,
    )


def slice_volume_uncertainty_cc(mask: sitk.Image) -> float:
    """Half-width (cm³) of the volume uncertainty that the slice spacing of ``mask`` leaves.

    A lesion sampled on slices ``s`` mm apart (thickness + gap) can end anywhere within half a slice
    spacing beyond its first and last slice, and start as late: ± s/2 × (area of its first slice +
    area of its last slice). Negligible on 1 mm 3-D series; on 2-D 5 mm + 1 mm gap series it is the
    honest error bar of the volume (the count of voxels itself is unbiased, Cavalieri).

    Examples
    --------
    >>> import numpy as np, SimpleITK as sitk
    >>> m = sitk.GetImageFromArray(np.ones((3, 10, 10), np.uint8)); m.SetSpacing((1.0, 1.0, 6.0))
    >>> slice_volume_uncertainty_cc(m)  # 3 slices of 100 mm², 6 mm apart: ± 3 × (100 + 100) mm³
    0.6
    """
    arr = sitk.GetArrayViewFromImage(mask) > 0
    areas = arr.reshape(arr.shape[0], -1).sum(1)
    hit = np.flatnonzero(areas)
    if hit.size == 0:
        return 0.0
    sx, sy, sz = mask.GetSpacing()
    return float(0.5 * sz * (areas[hit[0]] + areas[hit[-1]]) * sx * sy / MM3_PER_CC)


__all__ = ["TimepointMeasures", "measure_timepoint", "sphericity", "lesion_quotient", "slice_volume_uncertainty_cc"]
