"""One call for the pipeline: the dose-side block of one follow-up lesion.

:func:`analyze_lesion` maps the lesion once (planning dose grid refined, transform convention of
:mod:`radnec.dose.lesion`) and returns the JSON-ready pieces of the analysis contract
(``dose``, ``pattern``, ``growth_symmetry``) plus their details.
"""

from __future__ import annotations

from typing import Any

import SimpleITK as sitk

from radnec.dose.lesion import DEFAULT_SUPERSAMPLE


def analyze_lesion(
    dose: sitk.Image,
    enhancing_mask: sitk.Image,
    *,
    prescription_gy: float,
    transform: sitk.Transform | None = None,
    whole_lesion_mask: sitk.Image | None = None,
    gtv: Any = None,
    origin_mask: sitk.Image | None = None,
    origin_transform: sitk.Transform | None = None,
    supersample: int = DEFAULT_SUPERSAMPLE,
    name: str = "lesion",
) -> dict[str, Any]:
    """Dose, isodose coverage, pattern and growth symmetry of one follow-up lesion.

    Parameters
    ----------
    dose
        Plan dose (Gy) in the planning frame.
    enhancing_mask
        Enhancing lesion (uint8) at the assessed follow-up, in its own frame: used for the dose
        metrics, coverage and the pattern.
    prescription_gy
        Prescription dose (Gy).
    transform
        Planning → follow-up transform (``None``: the masks are in the planning frame).
    whole_lesion_mask
        Enhancing + necrotic core (same frame), for growth symmetry (default: ``enhancing_mask``).
    gtv
        Planning GTV (ROI or planning-frame mask): the pattern then uses the new volume only.
    origin_mask, origin_transform
        The lesion at the earliest enlarging time point (point of origin) and its transform.

    Returns
    -------
    dict
        ``{"dose": {...contract block...}, "pattern": str, "growth_symmetry": str,
        "pattern_detail": {...}, "symmetry_detail": {...}}``.
    """
    from radnec.dose.lesion import lesion_dose, map_lesion
    from radnec.dose.pattern import classify_pattern
    from radnec.dose.symmetry import growth_symmetry

    mapped = map_lesion(dose, enhancing_mask, transform=transform, supersample=supersample)
    ld = lesion_dose(dose, enhancing_mask, transform=transform, prescription_gy=prescription_gy, mapped=mapped, name=name)
    pat = classify_pattern(
        dose,
        enhancing_mask,
        prescription_gy=prescription_gy,
        transform=transform,
        gtv=gtv,
        origin_mask=origin_mask,
        origin_transform=origin_transform,
        supersample=supersample,
        mapped=mapped,
    )
    whole = whole_lesion_mask if whole_lesion_mask is not None else enhancing_mask
    sym = growth_symmetry(
        dose,
        whole,
        prescription_gy=prescription_gy,
        transform=transform,
        supersample=supersample,
        mapped=mapped if whole_lesion_mask is None else None,
    )
    return {
        "dose": ld.to_contract(),
        "pattern": pat.pattern,
        "growth_symmetry": sym.growth_symmetry,
        "pattern_detail": pat.to_dict(),
        "symmetry_detail": sym.to_dict(),
    }


__all__ = ["analyze_lesion"]
