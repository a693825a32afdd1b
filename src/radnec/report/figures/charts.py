"""Chart figures: the cumulative lesion DVH and the growth curve over time."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import TYPE_CHECKING

import numpy as np

from radnec.report.figures.style import LINESTYLES, OKABE_ITO, new_figure, png_bytes, style_context

if TYPE_CHECKING:  # pragma: no cover
    from radnec.case import Timepoint


def dvh_plot(
    curves: Mapping[str, tuple[Sequence[float], Sequence[float]]],
    *,
    prescription_gy: float | None,
    title: str = "Cumulative dose-volume histogram",
) -> bytes:
    """Cumulative DVHs: volume (% of the structure) receiving at least a dose (Gy).

    Parameters
    ----------
    curves
        ``label -> (dose_gy, volume_pct)`` arrays of equal length; volume in 0..100 %.
    prescription_gy
        Prescription dose (Gy), drawn as a vertical line with a secondary axis in % of it.
    """
    if not curves:
        raise ValueError("dvh_plot needs at least one curve")
    checked = {}
    for label, (dose_gy, vol_pct) in curves.items():
        d = np.asarray(dose_gy, dtype=float).ravel()
        v = np.asarray(vol_pct, dtype=float).ravel()
        if d.shape != v.shape or d.size < 2:
            raise ValueError(f"DVH curve {label!r}: dose and volume must be equal-length arrays of >= 2 points")
        if not (np.all(np.isfinite(d)) and np.all(np.isfinite(v))):
            raise ValueError(f"DVH curve {label!r} contains non-finite values")
        if v.min() < -1e-6 or v.max() > 100.0 + 1e-6:
            raise ValueError(f"DVH curve {label!r}: volume must be in % (0..100), got {v.min():.3g}..{v.max():.3g}")
        checked[label] = (d, v)
    colours = list(OKABE_ITO.values())[1:] + [OKABE_ITO["black"]]
    with style_context():
        fig = new_figure(10.0, 5.6)
        ax = fig.subplots()
        for n, (label, (d, v)) in enumerate(checked.items()):
            ax.plot(d, v, color=colours[n % len(colours)], linestyle=LINESTYLES[n % len(LINESTYLES)],
                    linewidth=2.5, label=label)
        if prescription_gy:
            ax.axvline(prescription_gy, color="0.3", linestyle=":", linewidth=1.5,
                       label=f"prescription {prescription_gy:g} Gy")
            sec = ax.secondary_xaxis(
                "top", functions=(lambda g: g / prescription_gy * 100.0, lambda p: p * prescription_gy / 100.0)
            )
            sec.set_xlabel("dose (% of prescription)")
        ax.set_xlabel("dose (Gy)")
        ax.set_ylabel("volume (% of structure)")
        ax.set_ylim(0, 102)
        ax.set_xlim(left=0)
        ax.grid(True, color="0.85")
        ax.legend(loc="lower left")
        ax.set_title(title)
        return png_bytes(fig)


def growth_curve(timepoints: Sequence[Timepoint], *, title: str = "Lesion growth") -> bytes:
    """Longest diameter and volumes over time, with RANO-BM categories and steroid doses.

    Parameters
    ----------
    timepoints
        :class:`radnec.case.Timepoint` objects in chronological order. The x axis is days since
        SRS when every time point has it, otherwise the time-point order (said on the axis).
    """
    if not timepoints:
        raise ValueError("growth_curve needs at least one time point")
    days = [tp.days_since_srs for tp in timepoints]
    if all(d is not None for d in days):
        x = np.asarray(days, dtype=float)
        xlabel = "days since SRS"
    else:
        x = np.arange(1, len(timepoints) + 1, dtype=float)
        xlabel = "time point (days since SRS unknown)"
    ld = np.asarray([tp.longest_diameter_mm for tp in timepoints], dtype=float)
    enh = np.asarray([tp.enhancing_cc for tp in timepoints], dtype=float)
    edema = [tp.edema_cc for tp in timepoints]
    steroids = [tp.steroid_dose_mg for tp in timepoints]
    has_steroids = any(s is not None for s in steroids)
    nrows = 3 if has_steroids else 2
    ratios = [3, 3, 1.4][:nrows]
    with style_context():
        fig = new_figure(10.0, 3.0 * nrows + 0.6)
        axes = fig.subplots(nrows, 1, sharex=True, gridspec_kw={"height_ratios": ratios})
        ax_ld, ax_v = axes[0], axes[1]
        ax_ld.plot(x, ld, marker="o", markersize=8, color=OKABE_ITO["blue"], linewidth=2.5,
                   label="longest diameter")
        for xi, yi, tp in zip(x, ld, timepoints, strict=True):
            if tp.rano_bm_category:
                ax_ld.annotate(tp.rano_bm_category, (xi, yi), xytext=(0, 11), textcoords="offset points",
                               ha="center", fontsize=12, fontweight="bold",
                               bbox={"boxstyle": "round,pad=0.2", "facecolor": "white", "edgecolor": "0.5"})
        ax_ld.set_ylabel("longest diameter (mm)")
        ax_ld.set_ylim(0, max(float(np.nanmax(ld)) * 1.3, 1.0))
        ax_ld.grid(True, color="0.85")
        ax_ld.legend(loc="upper left")
        ax_ld.set_title(title + " (labels: RANO-BM category)" if any(tp.rano_bm_category for tp in timepoints)
                        else title)
        ax_v.plot(x, enh, marker="s", markersize=7, color=OKABE_ITO["vermillion"], linewidth=2.5,
                  label="enhancing volume")
        if any(e is not None for e in edema):
            ex = [xi for xi, e in zip(x, edema, strict=True) if e is not None]
            ey = [e for e in edema if e is not None]
            ax_v.plot(ex, ey, marker="^", markersize=7, color=OKABE_ITO["sky_blue"], linestyle="--",
                      linewidth=2.5, label="oedema volume (FLAIR)")
        ax_v.set_ylabel("volume (cm³)")
        ax_v.set_ylim(bottom=0)
        ax_v.grid(True, color="0.85")
        ax_v.legend(loc="upper left")
        if has_steroids:
            ax_s = axes[2]
            sx = [xi for xi, s in zip(x, steroids, strict=True) if s is not None]
            sy = [s for s in steroids if s is not None]
            span = float(np.ptp(x)) if x.size > 1 else 1.0
            ax_s.bar(sx, sy, width=max(span / 40.0, 0.5), color=OKABE_ITO["orange"], edgecolor="black")
            for xi, s in zip(sx, sy, strict=True):
                ax_s.annotate(f"{s:g}", (xi, s), xytext=(0, 3), textcoords="offset points", ha="center")
            ax_s.set_ylabel("steroid\n(mg)")
            ax_s.set_ylim(0, max(max(sy) * 1.4, 1.0))
            ax_s.grid(True, axis="y", color="0.85")
        axes[-1].set_xlabel(xlabel)
        if xlabel.startswith("time point"):
            axes[-1].set_xticks(x)
        return png_bytes(fig)


__all__ = ["dvh_plot", "growth_curve"]
