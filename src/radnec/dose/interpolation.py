"""How a contoured structure is filled in between its contour planes for a DVH.

The choice is a ``str``-valued :class:`enum.Enum`, so the CLI option, the JSON output and
existing callers passing ``"morph"``/``"shape"``/``"spline"`` are unchanged.
"""

from __future__ import annotations

import enum


class PlaneInterpolation(str, enum.Enum):
    """Inter-plane interpolation of an RTSTRUCT ROI (see :func:`radnec.dose.dvh.dvh`)."""

    #: Both neighbouring plane shapes blended; cross-section area interpolated with the family
    #: chosen per run by cross-validation (:func:`radnec.dose.sampling.area_profiles`). Default.
    MORPH = "morph"
    #: Shape-based interpolation of signed distance maps (same areas as ``morph``).
    SHAPE = "shape"
    #: The contour model's cubic spline of the areas (the radnec 0.1 behaviour).
    SPLINE = "spline"

    @classmethod
    def choices_text(cls) -> str:
        """The values as prose: ``"morph, shape or spline"``."""
        values = [m.value for m in cls]
        return ", ".join(values[:-1]) + " or " + values[-1]


__all__ = ["PlaneInterpolation"]
