"""Figures of the tumour-board report, as deterministic PNG bytes.

Every function returns the bytes of one PNG drawn with matplotlib's Agg renderer on a
:class:`matplotlib.figure.Figure` (no ``pyplot`` global state, so it is safe to call from any
thread and never opens a window). Identical inputs give identical bytes: fixed size and dpi,
fixed fonts and colours, and no ``Software``/date metadata in the PNG.

Design for print (a tumour board projects or prints the page): large fonts, the Okabe-Ito
colour-blind-safe palette (Okabe & Ito, "Color Universal Design", 2008; the palette matplotlib's
``tableau-colorblind10`` style is close to) plus line styles so that nothing relies on colour
alone, legends, units on every axis and millimetre axes on every image.

Image conventions (see docs/report.md):

* every input image is a :class:`SimpleITK.Image` in DICOM patient coordinates (LPS, mm);
  images drawn together must be on the same grid (:func:`radnec.geometry.require_same_grid`);
* before slicing, each image is brought onto an axis-aligned LPS grid: a direction matrix
  that is a permutation/flip of the axes (sagittal or coronal acquisitions) is reordered
  exactly with :func:`SimpleITK.DICOMOrient`; an oblique direction is then resampled
  (linear for intensities and dose, nearest neighbour for masks) onto an axis-aligned grid
  with the same spacing covering the image's physical bounding box;
* views are in radiological orientation: axial and coronal show the patient's right on the
  viewer's left, axial has anterior at the top, coronal and sagittal have superior at the top,
  sagittal has anterior on the left; every panel carries A/P/L/R/S/I letters and mm axes with
  equal physical aspect (so anisotropic voxels are drawn at their true size).

Modules: ``style`` (palette, fonts, PNG output), ``planes`` (axis-aligned grids, slices,
panels), ``views`` (image figures), ``charts`` (DVH, growth), ``evidence`` (contributions, value
of information). The public functions are re-exported here: ``from radnec.report import figures as F``.
"""

from __future__ import annotations

from radnec.report.figures.charts import dvh_plot, growth_curve
from radnec.report.figures.evidence import evidence_contributions, value_of_information
from radnec.report.figures.planes import DEFAULT_FOV_MM, to_axis_aligned_lps
from radnec.report.figures.style import DPI, OKABE_ITO
from radnec.report.figures.views import orthogonal_views, registration_overlay, side_by_side

__all__ = [
    "OKABE_ITO",
    "DPI",
    "DEFAULT_FOV_MM",
    "to_axis_aligned_lps",
    "orthogonal_views",
    "side_by_side",
    "dvh_plot",
    "growth_curve",
    "registration_overlay",
    "evidence_contributions",
    "value_of_information",
]
