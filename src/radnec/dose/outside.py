"""Dose to a lesion (or the part of it) that lies outside the dose grid: an upper bound, not "unknown".

A treatment-planning system computes dose on a grid that encloses the target and its fall-off; beyond the
grid it reports nothing. The dose there is not zero, but it is below the highest dose on the grid's
boundary, provided the dose keeps falling off away from the target beyond the grid — true for a
stereotactic plan whose grid encloses the target with its penumbra (the usual export), and stated as the
assumption in ``basis``. So a lesion outside the grid received **< X Gy** with X = the highest dose on
the six faces of the grid (:func:`radnec.dose.pattern.dose_edge_max_gy`), and a lesion partly outside it
at most max(in-grid Dmax, X).
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import SimpleITK as sitk

from radnec.dose.lesion import MappedLesion
from radnec.dose.pattern import dose_edge_max_gy

#: Fraction of the lesion volume outside the grid below which no bound is reported (mapping noise).
MIN_OUTSIDE_FRACTION = 1e-3


def gy_text(dose_gy: float) -> str:
    """A dose for printing: one decimal from 1 Gy up, two significant digits below (0.013 Gy stays visible)."""
    return f"{dose_gy:.1f}" if abs(dose_gy) >= 1.0 else f"{dose_gy:.2g}"


@dataclass(frozen=True)
class OutsideDose:
    """Upper bound of the plan dose in a lesion that lies (partly) outside the dose grid.

    Attributes
    ----------
    dmax_upper_bound_gy
        The lesion's maximum dose is below this (Gy): max(in-grid Dmax, boundary maximum).
    boundary_max_gy
        Highest dose on the six faces of the dose grid (Gy).
    outside_fraction
        Fraction (0–1) of the lesion volume outside the grid.
    basis
        How the bound was obtained and what it assumes.
    """

    dmax_upper_bound_gy: float
    boundary_max_gy: float
    outside_fraction: float
    basis: str

    @property
    def shown(self) -> str:
        """The bound as printed: '< X Gy'."""
        return f"< {gy_text(self.dmax_upper_bound_gy)} Gy"

    def to_contract(self) -> dict[str, Any]:
        """JSON-ready block (``analysis.json`` → ``lesions[].dose_bound``)."""
        return {
            "dmax_upper_bound_gy": round(self.dmax_upper_bound_gy, 3),
            "boundary_max_gy": round(self.boundary_max_gy, 3),
            "outside_fraction": round(self.outside_fraction, 4),
            "shown": self.shown,
            "basis": self.basis,
        }


def outside_dose_bound(dose: sitk.Image, mapped: MappedLesion, *, dmax_in_grid_gy: float | None) -> OutsideDose | None:
    """Upper bound of the dose of a lesion that lies (partly) outside the dose grid.

    Parameters
    ----------
    dose
        Plan dose (Gy) on its grid (planning frame).
    mapped
        The lesion mapped onto the dose grid (:func:`radnec.dose.lesion.map_lesion`).
    dmax_in_grid_gy
        The lesion's maximum dose over its part inside the grid (Gy), or None when none of it is inside.

    Returns
    -------
    OutsideDose or None
        None when (practically) the whole lesion lies inside the grid.
    """
    outside = mapped.outside_cc / mapped.volume_cc if mapped.volume_cc > 0 else 1.0
    if outside < MIN_OUTSIDE_FRACTION:
        return None
    edge = dose_edge_max_gy(dose)
    bound = max(edge, dmax_in_grid_gy if dmax_in_grid_gy is not None else 0.0)
    where = "the whole lesion" if mapped.fraction is None or mapped.mapped_cc <= 0 else f"{100 * outside:.0f} % of the lesion"
    basis = (
        f"{where} lies outside the dose grid; the dose there is below the highest dose on the grid boundary "
        f"({gy_text(edge)} Gy), assuming the dose keeps falling off away from the target beyond the grid"
        + (f"; inside the grid the lesion's maximum is {gy_text(dmax_in_grid_gy)} Gy" if dmax_in_grid_gy is not None else "")
    )
    return OutsideDose(dmax_upper_bound_gy=bound, boundary_max_gy=edge, outside_fraction=min(outside, 1.0), basis=basis)


__all__ = ["OutsideDose", "outside_dose_bound", "gy_text", "MIN_OUTSIDE_FRACTION"]
