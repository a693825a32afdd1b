"""The tumour-board report: matplotlib figures (:mod:`radnec.report.figures`) and the
self-contained HTML renderer (:mod:`radnec.report.html`).

Import the submodules directly; this package imports nothing heavy at import time.
"""

from __future__ import annotations

__all__ = ["figures", "html"]
