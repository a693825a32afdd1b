"""In-field / marginal / out-of-field: where an enlarging lesion lies relative to the plan dose.

The rule is a **radnec convention** (``conventions.yaml`` → ``pattern``), an adaptation to SRS of
the glioma volumetric definition (≥ 80 % of the recurrence inside the field isodose = in-field,
20–80 % = marginal, < 20 % = out-of-field; Brandes et al., compiled in Radiat Oncol 2013;8:97):

* ``f_field`` = fraction of the (new) lesion volume inside the field isodose (100 % Rx);
* ``f_falloff`` = fraction inside the fall-off isodose (50 % Rx);
* **out-of-field** if ``f_falloff < 0.20``;
* **in-field** if ``f_field ≥ 0.80``, or if the point of origin lies inside the Rx isodose
  (dose there ≥ 100 % Rx) and ``f_falloff ≥ 0.80``;
* **marginal** otherwise.

The "point of origin" is the centroid of the earliest enlarging time point's (new) lesion; its
dose (% Rx), isodose zone and signed distance to the Rx isodose surface are reported.
"New" volume = lesion minus the planning GTV when a GTV is given.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

import numpy as np
import SimpleITK as sitk

from radnec.dose.dvh import sample_dose
from radnec.dose.lesion import DEFAULT_SUPERSAMPLE, MappedLesion, map_lesion
from radnec.errors import GeometryError

PATTERNS = ("in-field", "marginal", "out-of-field")


@dataclass(frozen=True)
class PatternResult:
    """Outcome of :func:`classify_pattern` (all continuous numbers kept for the JSON)."""

    pattern: str
    fractions: dict[str, float]
    volume_used_cc: float
    volume_kind: str
    origin: dict[str, Any]
    rule: str
    convention: str
    citation: str
    notes: list[str] = field(default_factory=list)

    def to_dict(self) -> dict[str, Any]:
        return {
            "pattern": self.pattern,
            "fractions_inside": dict(self.fractions),
            "volume_used_cc": self.volume_used_cc,
            "volume_kind": self.volume_kind,
            "point_of_origin": dict(self.origin),
            "rule": self.rule,
            "convention": self.convention,
            "citation": self.citation,
            "notes": list(self.notes),
        }


def dose_edge_max_gy(dose: sitk.Image) -> float:
    """Largest dose (Gy) on the six outer faces of the dose grid: when it is below an isodose
    level, the grid contains that whole isodose surface."""
    a = sitk.GetArrayViewFromImage(dose)
    return float(max(a[0].max(), a[-1].max(), a[:, 0].max(), a[:, -1].max(), a[:, :, 0].max(), a[:, :, -1].max()))


def _zone(pct: float) -> str:
    if pct >= 100:
        return "inside the 100 % Rx isodose"
    if pct >= 80:
        return "between the 80 % and 100 % Rx isodoses"
    if pct >= 50:
        return "between the 50 % and 80 % Rx isodoses"
    return "outside the 50 % Rx isodose"


def _gtv_fraction(points: np.ndarray, gtv: Any) -> np.ndarray:
    """Fraction (0..1) of the planning GTV at planning-frame points (ROI or mask image)."""
    from radnec.geometry.contours import ROI, contour_model

    if gtv is None or len(points) == 0:
        return np.zeros(len(points))
    if isinstance(gtv, ROI):
        return contour_model(gtv).inside(points).astype(float)
    if isinstance(gtv, sitk.Image):
        from scipy import ndimage

        ci = ((points - np.asarray(gtv.GetOrigin())) @ np.asarray(gtv.GetDirection()).reshape(3, 3)) / np.asarray(gtv.GetSpacing())
        arr = np.asarray(sitk.GetArrayViewFromImage(gtv), dtype=np.float32)
        return np.clip(ndimage.map_coordinates(arr, [ci[:, 2], ci[:, 1], ci[:, 0]], order=0, mode="constant", cval=0.0), 0, 1)
    raise TypeError(f"gtv must be an ROI or a mask image, got {type(gtv).__name__}")


def classify_pattern(
    dose: sitk.Image,
    lesion_mask: sitk.Image,
    *,
    prescription_gy: float,
    transform: sitk.Transform | None = None,
    gtv: Any = None,
    origin_mask: sitk.Image | None = None,
    origin_transform: sitk.Transform | None = None,
    supersample: int = DEFAULT_SUPERSAMPLE,
    mapped: MappedLesion | None = None,
) -> PatternResult:
    """Classify the failure pattern of a follow-up lesion relative to the plan dose.

    Parameters
    ----------
    dose
        Plan dose (Gy), planning frame.
    lesion_mask
        The lesion (uint8) at the time point assessed, in its follow-up frame.
    prescription_gy
        Prescription (Gy).
    transform
        Planning → follow-up transform of ``lesion_mask`` (``None``: planning frame).
    gtv
        Planning GTV (ROI or planning-frame mask); when given only the NEW lesion volume counts.
    origin_mask, origin_transform
        The lesion at the earliest enlarging time point and its transform, for the point of
        origin (default: ``lesion_mask`` itself).
    supersample
        Dose-grid refinement for the lesion sampling.
    mapped
        Reuse an already mapped lesion.
    """
    from radnec.dose.conventions import load_conventions
    from radnec.dose.isodose import signed_distance_to_isodose

    if not (prescription_gy and prescription_gy > 0):
        raise ValueError(f"prescription must be positive (Gy), got {prescription_gy}")
    conv = load_conventions()["pattern"]
    field_level = prescription_gy * float(conv["field_isodose_pct"]) / 100.0
    fall_level = prescription_gy * float(conv["falloff_isodose_pct"]) / 100.0
    notes: list[str] = []

    m = mapped if mapped is not None else map_lesion(dose, lesion_mask, transform=transform, supersample=supersample)
    outside_cc = m.outside_cc
    grid_holds_falloff = dose_edge_max_gy(dose) < fall_level
    if outside_cc > 1e-3 * m.volume_cc:
        if not grid_holds_falloff:
            if m.weights_cc.sum() <= 0:
                raise GeometryError(
                    "the lesion lies outside the dose grid, and the grid does not contain the whole "
                    f"{conv['falloff_isodose_pct']} % Rx isodose: its pattern cannot be judged from this dose"
                )
            notes.append(f"{outside_cc:.3g} cm³ of the lesion lies outside the dose grid and is ignored")
            outside_cc = 0.0
        else:
            notes.append(
                f"{outside_cc:.3g} cm³ of the lesion lies outside the dose grid; the grid contains the whole "
                f"{conv['falloff_isodose_pct']} % Rx isodose, so that part counts as outside it"
            )
    else:
        outside_cc = 0.0
    w = m.weights_cc.copy()
    kind = "whole lesion"
    if gtv is not None and len(w):
        new_w = w * (1.0 - _gtv_fraction(m.points_lps, gtv))
        if new_w.sum() > 1e-3 * w.sum():
            w, kind = new_w, "new lesion volume (lesion minus planning GTV)"
        else:
            notes.append("the lesion lies inside the planning GTV: the whole lesion is used")
    total = float(w.sum()) + outside_cc
    fr = {
        f"rx{int(p)}": float(w[m.doses_gy >= prescription_gy * p / 100.0].sum() / total) for p in (100, 80, 50)
    }
    f_field = float(w[m.doses_gy >= field_level].sum() / total)
    f_fall = float(w[m.doses_gy >= fall_level].sum() / total)

    # point of origin
    om = map_lesion(dose, origin_mask, transform=origin_transform, supersample=supersample) if origin_mask is not None else None
    if om is not None and om.weights_cc.sum() > 0:
        ow = om.weights_cc
        if gtv is not None:
            nw = ow * (1.0 - _gtv_fraction(om.points_lps, gtv))
            ow = nw if nw.sum() > 1e-3 * ow.sum() else ow
        centre = om.centroid_lps(ow)
        src = "earliest enlarging time point"
    elif om is not None and grid_holds_falloff:
        # The earliest enlarging lesion lies wholly outside a grid that holds the fall-off.
        centre = None
        src = "earliest enlarging time point (outside the dose grid)"
    elif w.sum() > 0:
        centre = m.centroid_lps(w)
        src = "the assessed time point (no earlier mask given)"
    else:
        centre = None
        src = "the assessed time point (outside the dose grid)"
    if centre is None:
        origin = {"centroid_lps": None, "source": src, "dose_gy": None, "dose_pct_rx": None,
                  "zone": "outside the dose grid", "signed_distance_to_rx_isodose_mm": None}
        return PatternResult(
            pattern="out-of-field",
            fractions=fr,
            volume_used_cc=total,
            volume_kind=kind,
            origin=origin,
            rule="lesion entirely outside a dose grid that contains the whole fall-off isodose",
            convention=str(conv["convention"]),
            citation=" ".join(str(conv["citation"]).split()),
            notes=notes,
        )
    d_c, inside = sample_dose(dose, centre[None, :])
    pct = float(100.0 * d_c[0] / prescription_gy) if inside[0] else float("nan")
    sd = signed_distance_to_isodose(dose, prescription_gy)
    dist, ok = sample_dose(sd, centre[None, :])
    origin = {
        "centroid_lps": [float(v) for v in centre],
        "source": src,
        "dose_gy": float(d_c[0]) if inside[0] else None,
        "dose_pct_rx": pct if inside[0] else None,
        "zone": _zone(pct) if inside[0] else "outside the dose grid",
        "signed_distance_to_rx_isodose_mm": float(dist[0]) if ok[0] and np.isfinite(dist[0]) else None,
    }

    tin, tout = float(conv["in_field_min_fraction"]), float(conv["out_of_field_max_fraction"])
    torigin = float(conv["origin_falloff_min_fraction"])
    origin_in = inside[0] and pct >= float(conv["origin_in_field_min_pct"])
    if f_fall < tout:
        pattern = "out-of-field"
    elif f_field >= tin or (origin_in and f_fall >= torigin):
        pattern = "in-field"
    else:
        pattern = "marginal"
    rule = (
        f"out-of-field if < {tout:.0%} inside the {conv['falloff_isodose_pct']} % Rx isodose; in-field if ≥ {tin:.0%} "
        f"inside the {conv['field_isodose_pct']} % Rx isodose, or origin ≥ {conv['origin_in_field_min_pct']} % Rx and ≥ {torigin:.0%} "
        f"inside the {conv['falloff_isodose_pct']} % Rx isodose; marginal otherwise"
    )
    return PatternResult(
        pattern=pattern,
        fractions=fr,
        volume_used_cc=total,
        volume_kind=kind,
        origin=origin,
        rule=rule,
        convention=str(conv["convention"]),
        citation=" ".join(str(conv["citation"]).split()),
        notes=notes,
    )


__all__ = ["PATTERNS", "PatternResult", "classify_pattern"]
