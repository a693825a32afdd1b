"""``radnec analyze`` as stages with a saved middle.

:func:`analyze` runs ingest → plan → fusion → lesions → dose side → evidence → outputs; each stage's
result is saved in a workspace (``OUT/.radnec``) under the SHA-256 of its inputs and the code, and
reused when nothing it depends on changed. :func:`reanalyze_lesion` (a new seed: lesion → dose →
evidence → outputs) and :func:`update_clinical` (a new clinical file: evidence → outputs) are the
quick re-runs the workspace and the cohorts call. See :mod:`radnec.pipeline.workspace`.
"""

from radnec.pipeline.run import PLANNING_FRAME, analyze, reanalyze_lesion, update_clinical

__all__ = ["PLANNING_FRAME", "analyze", "reanalyze_lesion", "update_clinical"]
