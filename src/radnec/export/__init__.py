"""DICOM exports of an analysis: what :mod:`radnec.ingest` reads, written back for the clinic.

One module per DICOM object (highdicom style):

* :mod:`radnec.export.rtstruct` — RT Structure Set of every lesion compartment and time point on the
  PLANNING image series (for the treatment-planning system);
* :mod:`radnec.export.seg` — DICOM Segmentation (highdicom) of the lesion compartments on each
  follow-up T1c series;
* :mod:`radnec.export.sr` — Comprehensive 3D SR, TID 1500 measurement report (highdicom): volumes,
  diameters, dose metrics, pattern and symmetry, P(progression) with its interval, referencing the
  SEG segments and the source images;
* :mod:`radnec.export.pdf` — the HTML report as Encapsulated PDF (optional; headless Chromium);
* the registrations reuse :mod:`radnec.fuse.dicom_reg`;
* :mod:`radnec.export.deidentify` — one pseudonymisation applied to every object of an export;
* :mod:`radnec.export.bundle` — :func:`~radnec.export.bundle.export_case`, everything for one case.

The exporters take explicit inputs (:mod:`radnec.export.inputs`), not a pipeline workspace.
"""
