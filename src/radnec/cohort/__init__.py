"""Cohorts: ``radnec analyze`` over many cases as Dask tasks, the cohort table and local calibration.

- :mod:`radnec.cohort.cases` — the case list (a folder of case folders or a CSV) and each case's input
  fingerprint for ``--resume``.
- :mod:`radnec.cohort.task` — the task one Dask worker runs per case (``analyze`` + peak memory).
- :mod:`radnec.cohort.runner` — the Dask client side: submit, collect as completed, atomic records.
- :mod:`radnec.cohort.table` — one row per lesion → Parquet and CSV.
- :mod:`radnec.cohort.calibration` — AUC, Brier, calibration curve/intercept/slope, decision curve,
  per-item likelihood ratios re-estimated on the cohort, and the knowledge-override file.
- :mod:`radnec.cohort.summary` — the cohort HTML page.

This package sits above :mod:`radnec.pipeline` and is left out of the pipeline's code fingerprint.
"""
