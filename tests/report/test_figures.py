"""Figures: valid PNGs, deterministic bytes, geometry checks, orientation and degradation."""

from __future__ import annotations

import io

import numpy as np
import pytest
import SimpleITK as sitk

from radnec.errors import GeometryError
from radnec.report import figures as F

from .conftest import LESION_CENTRE, full_analysis, make_case_images

PNG = b"\x89PNG\r\n\x1a\n"


def _decode(png: bytes) -> np.ndarray:
    from matplotlib.image import imread

    return imread(io.BytesIO(png), format="png")


def _assert_png(png: bytes) -> np.ndarray:
    assert png[:8] == PNG
    arr = _decode(png)
    assert arr.ndim == 3 and arr.shape[0] > 200 and arr.shape[1] > 400
    assert float(arr[..., :3].std()) > 0.05, "figure is blank"
    return arr


def test_orthogonal_views_png_and_deterministic(case_images):
    kw = dict(dose=case_images["dose"], prescription_gy=20.0, lesion=case_images["lesion"], title="t")
    a = F.orthogonal_views(case_images["followup"], **kw)
    b = F.orthogonal_views(case_images["followup"], **kw)
    _assert_png(a)
    assert a == b
    assert b"Software" not in a and b"matplotlib" not in a.lower()


def test_isodose_lines_drawn_in_their_colour(case_images):
    """The 100 % isodose colour (vermillion) appears only when the dose is given."""
    kw = {"center_lps": LESION_CENTRE}
    with_dose = _decode(F.orthogonal_views(case_images["followup"], dose=case_images["dose"], prescription_gy=16.0, **kw))
    without = _decode(F.orthogonal_views(case_images["followup"], **kw))
    target = np.array([0xD5, 0x5E, 0x00]) / 255.0

    def count(arr: np.ndarray) -> int:
        panels = arr[: int(arr.shape[0] * 0.85), :, :3]  # above the legend
        return int((np.abs(panels - target).max(axis=-1) < 0.08).sum())

    assert count(with_dose) > 150
    assert count(without) == 0


def test_dose_without_prescription_degrades_with_note(case_images):
    png = F.orthogonal_views(case_images["followup"], dose=case_images["dose"], prescription_gy=None)
    _assert_png(png)
    with pytest.raises(ValueError, match="prescription_gy"):
        F.orthogonal_views(case_images["followup"], dose=case_images["dose"], prescription_gy=-1.0)


def test_mismatched_grids_raise_geometry_error(case_images):
    other = sitk.Image(case_images["followup"])
    other.SetOrigin((0.0, 0.0, 0.0))
    with pytest.raises(GeometryError, match="different grids"):
        F.orthogonal_views(case_images["followup"], dose=other, prescription_gy=20.0)
    with pytest.raises(GeometryError):
        F.orthogonal_views(case_images["followup"], lesion=sitk.Cast(other, sitk.sitkUInt8))
    with pytest.raises(GeometryError):
        F.side_by_side(case_images["planning"], other)
    with pytest.raises(GeometryError):
        F.registration_overlay(case_images["planning"], other)


def test_centre_outside_image_raises(case_images):
    with pytest.raises(GeometryError, match="outside the image"):
        F.orthogonal_views(case_images["followup"], center_lps=(500.0, 0.0, 0.0))


def test_axis_aligned_resampling_preserves_physical_positions():
    """A permuted/flipped and an oblique direction matrix: the lesion centroid (LPS mm) is
    unchanged after bringing the image onto an axis-aligned grid."""
    from radnec.geometry import mask_centroid_lps

    permuted = (0.0, 0.0, -1.0, 1.0, 0.0, 0.0, 0.0, -1.0, 0.0)
    c, s = np.cos(0.3), np.sin(0.3)
    oblique = (c, -s, 0.0, s, c, 0.0, 0.0, 0.0, 1.0)
    for direction in (permuted, oblique):
        imgs = make_case_images(direction)
        lesion = imgs["lesion"]
        aligned = F.to_axis_aligned_lps(lesion, is_mask=True)
        assert np.allclose(aligned.GetDirection(), np.eye(3).ravel())
        before = mask_centroid_lps(lesion)
        after = mask_centroid_lps(aligned)
        assert np.linalg.norm(before - after) < 1.0, (before, after)
        assert np.linalg.norm(before - np.asarray(LESION_CENTRE)) < 1.5
        # the whole figure also works on such images
        _assert_png(F.orthogonal_views(imgs["followup"], dose=imgs["dose"], prescription_gy=20.0, lesion=lesion))


def test_radiological_orientation_patient_left_on_viewer_right(case_images):
    """The lesion sits at patient left (x = +12 mm); in radiological display it must appear
    right of the image centre in the axial panel."""
    img = case_images["followup"]
    mid = img.TransformContinuousIndexToPhysicalPoint([(n - 1) / 2 for n in img.GetSize()])
    centre = (mid[0], LESION_CENTRE[1], LESION_CENTRE[2])  # image centre left-right, through the lesion
    lesion_only = sitk.Cast(case_images["lesion"], sitk.sitkFloat32) * 1000.0
    arr = _decode(F.orthogonal_views(lesion_only, center_lps=centre, fov_mm=None))
    gray = arr[..., :3].mean(axis=-1)
    h, w = gray.shape
    axial = gray[:, : w // 3]  # the axial panel is the left third of the figure
    dark_rows = np.argwhere((axial < 0.02).sum(axis=1) > 0.4 * axial.shape[1]).ravel()
    dark_cols = np.argwhere((axial < 0.02).sum(axis=0) > 0.4 * axial.shape[0]).ravel()
    r0, r1, c0, c1 = dark_rows.min(), dark_rows.max(), dark_cols.min(), dark_cols.max()
    # inside the image panel, away from the orientation letters at its edges
    inner = axial[r0 + (r1 - r0) // 5 : r1 - (r1 - r0) // 5, c0 + (c1 - c0) // 10 : c1 - (c1 - c0) // 10]
    bright = np.argwhere(inner > 0.9)
    assert bright.size, "lesion not drawn"
    assert bright[:, 1].mean() > inner.shape[1] / 2 + 0.05 * inner.shape[1]


def test_dvh_plot(case_images):
    d = np.linspace(0, 26, 60)
    png = F.dvh_plot({"lesion": (d, 100 / (1 + np.exp(d - 14))), "GTV": (d, 100 / (1 + np.exp(d - 21)))},
                     prescription_gy=20.0)
    _assert_png(png)
    assert png == F.dvh_plot({"lesion": (d, 100 / (1 + np.exp(d - 14))), "GTV": (d, 100 / (1 + np.exp(d - 21)))},
                             prescription_gy=20.0)
    with pytest.raises(ValueError, match="equal-length"):
        F.dvh_plot({"x": (d, d[:-1])}, prescription_gy=20.0)
    with pytest.raises(ValueError, match="0..100"):
        F.dvh_plot({"x": (d, d * 10)}, prescription_gy=20.0)
    with pytest.raises(ValueError):
        F.dvh_plot({}, prescription_gy=20.0)


def test_growth_curve_with_and_without_days():
    tps = full_analysis().lesions[0].timepoints
    _assert_png(F.growth_curve(tps))
    no_days = [tp.model_copy(update={"days_since_srs": None, "steroid_dose_mg": None}) for tp in tps]
    _assert_png(F.growth_curve(no_days))
    with pytest.raises(ValueError):
        F.growth_curve([])


def test_evidence_and_voi_figures():
    ev = full_analysis().lesions[0].evidence
    png = F.evidence_contributions(ev["items"], prior_tp=ev["prior_tp"], posterior_tp=ev["posterior_tp"],
                                   interval95=ev["interval95"])
    _assert_png(png)
    _assert_png(F.value_of_information(ev["value_of_information"], current_tp=ev["posterior_tp"]))
    with pytest.raises(ValueError, match="probability"):
        F.evidence_contributions([], prior_tp=1.5, posterior_tp=0.5)
    with pytest.raises(ValueError):
        F.value_of_information([{"test": "x"}])


def test_registration_overlay_shows_misregistration(case_images):
    fixed = case_images["planning"]
    shifted = sitk.Resample(fixed, fixed, sitk.TranslationTransform(3, (6.0, 0.0, 0.0)), sitk.sitkLinear)
    good = F.registration_overlay(fixed, fixed)
    bad = F.registration_overlay(fixed, shifted)
    _assert_png(good)
    assert good != bad
    with pytest.raises(ValueError, match="checker_mm"):
        F.registration_overlay(fixed, fixed, checker_mm=0)


def test_not_3d_or_not_scalar_raises_geometry_error(case_images):
    flat = sitk.Image(20, 20, sitk.sitkFloat32)
    with pytest.raises(GeometryError, match="3-D"):
        F.orthogonal_views(flat)
    rgb = sitk.Image(case_images["followup"].GetSize(), sitk.sitkVectorFloat32, 3)
    rgb.CopyInformation(case_images["followup"])
    with pytest.raises(GeometryError, match="scalar"):
        F.orthogonal_views(rgb)


def test_empty_lesion_mask_centres_on_the_image(case_images):
    empty = sitk.Image(case_images["lesion"].GetSize(), sitk.sitkUInt8)
    empty.CopyInformation(case_images["lesion"])
    _assert_png(F.orthogonal_views(case_images["followup"], lesion=empty))
