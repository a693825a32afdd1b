"""Synthetic but anatomically real SRS cases with exact ground truth (``radnec phantom``).

The public entry points are :func:`radnec.phantom.generate.build_case` (everything in memory:
planning grid, dose, structures, follow-up frames, transforms and truth masks) and
:func:`radnec.phantom.generate.generate_case` (writes the DICOM case and ``truth.json``).
The case model (:class:`~radnec.phantom.model.PhantomCase`, ``SCENARIOS``) is in
:mod:`radnec.phantom.model`.
"""

from __future__ import annotations

__all__ = ["build_case", "generate_case", "SCENARIOS"]


def __getattr__(name: str):  # lazy: keep ``import radnec.phantom`` light
    if name in ("build_case", "generate_case"):
        from radnec.phantom import generate

        return getattr(generate, name)
    if name == "SCENARIOS":
        from radnec.phantom.model import SCENARIOS

        return SCENARIOS
    raise AttributeError(name)
