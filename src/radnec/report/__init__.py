"""The tumour-board report: matplotlib figures (:mod:`radnec.report.figures`, a package: style,
planes, views, charts, evidence) and the self-contained HTML renderer (:mod:`radnec.report.html`,
with the text formatting in :mod:`radnec.report.formatting` and the section view models in
:mod:`radnec.report.sections`).

Import the submodules directly; this package imports nothing heavy at import time.
"""

from __future__ import annotations

__all__ = ["figures", "html"]
