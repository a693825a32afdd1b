"""Lesion morphology over time: segmentation input, semi-automatic segmentation, volumes,
RANO-BM diameters, edema/enhancement ratio, enhancement pattern, growth and RANO-BM category.

Public API (import from the submodules): ``radnec.lesion.conventions`` (label conventions,
``Compartments``), ``radnec.lesion.labels`` (label maps, SEG, RTSTRUCT → compartments),
``radnec.lesion.segment`` (seed-point segmentation), ``radnec.lesion.morphology``,
``radnec.lesion.rano_bm``, ``radnec.lesion.longitudinal``. Inside the package, the segmentation
builds on ``intensity`` (robust statistics, enhancement threshold), ``regions`` (boolean region
operations) and ``edema`` (FLAIR edema).
"""
