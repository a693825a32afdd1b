"""Lesion morphology over time: segmentation input, semi-automatic segmentation, volumes,
RANO-BM diameters, edema/enhancement ratio, enhancement pattern, growth and RANO-BM category.

Public API (import from the submodules): ``radnec.lesion.labels``, ``radnec.lesion.segment``,
``radnec.lesion.morphology``, ``radnec.lesion.rano_bm``, ``radnec.lesion.longitudinal``.
"""
