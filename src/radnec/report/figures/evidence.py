"""Evidence figures: the log-likelihood-ratio contributions from prior to posterior and the value
of information of the next tests."""

from __future__ import annotations

import math
from collections.abc import Mapping, Sequence
from typing import Any

import numpy as np

from radnec.report.figures.style import OKABE_ITO, new_figure, png_bytes, style_context
from radnec.report.formatting import is_expert_opinion, voi_rows


def _logit(p: float) -> float:
    p = min(max(float(p), 1e-6), 1 - 1e-6)
    return math.log(p / (1 - p))


def _wrap(text: str, width: int = 46, lines: int = 2) -> str:
    """Wrap a long axis label onto at most ``lines`` lines, ellipsis beyond."""
    import textwrap

    parts = textwrap.wrap(text, width=width)
    if len(parts) > lines:
        parts = parts[:lines]
        parts[-1] = parts[-1][: width - 1] + "…"
    return "\n".join(parts)


def evidence_contributions(
    items: Sequence[Mapping[str, Any]],
    *,
    prior_tp: float,
    posterior_tp: float,
    interval95: Sequence[float] | None = None,
    title: str = "Probability of progression: prior → evidence → posterior",
) -> bytes:
    """Waterfall on the log-odds scale: the prior, each item's log likelihood ratio, the posterior
    with its 95 % interval. Axis ticks are labelled in probability (%).

    Parameters
    ----------
    items
        Evidence items as in the evidence block of :mod:`radnec.evidence` (keys used: ``label``,
        ``contribution`` (weight × log LR, what the engine added to the log-odds; ``log_lr`` when
        absent), ``weight``, ``used``, ``result``, ``population``, ``grade``/expert-opinion flags,
        ``unverified``). Observed items the engine did not use are listed in grey with zero length;
        informational items (``result`` None) are left out.
    prior_tp, posterior_tp
        Prior and posterior probability of tumour progression (0..1).
    interval95
        95 % interval of the posterior (0..1).

    Notes
    -----
    Bars are the items' contributions, so they add up from the prior to the posterior. If they do
    not (an engine that adjusts otherwise), the difference is drawn as its own "adjustment" bar
    rather than hidden.
    """
    from matplotlib.patches import Patch

    for name, p in (("prior_tp", prior_tp), ("posterior_tp", posterior_tp)):
        if not (isinstance(p, (int, float)) and 0.0 <= float(p) <= 1.0):
            raise ValueError(f"{name} must be a probability in 0..1, got {p!r}")
    rows: list[tuple[str, float, float, str, str | None]] = []  # label, start, length, colour, hatch
    prior_lo = _logit(prior_tp)
    rows.append((f"prior ({prior_tp * 100:.0f} %)", 0.0, prior_lo, "0.55", None))
    cum = prior_lo
    any_expert = False
    for it in items:
        label = str(it.get("label") or it.get("id") or "item")
        pop = it.get("population")
        tags = []
        if pop:
            tags.append(str(pop))
        expert = is_expert_opinion(it)
        if expert:
            any_expert = True
            tags.append("expert opinion")
        if it.get("unverified"):
            tags.append("unverified")
        text = label + (f" [{', '.join(tags)}]" if tags else "")
        if "result" in it and it.get("result") is None and not it.get("used", True):
            continue  # informational only or not observed: nothing to draw
        llr = it.get("contribution", it.get("log_lr"))
        used = it.get("used", True)
        if llr is None or not used or not math.isfinite(float(llr)):
            rows.append((text + " — not used", cum, 0.0, "0.8", None))
            continue
        llr = float(llr)
        if llr == 0.0:
            text += " (no effect)"
        weight = it.get("weight")
        if isinstance(weight, (int, float)) and 0.0 < float(weight) < 1.0:
            text += f" (×{float(weight):.2f}, same family)"
        colour = OKABE_ITO["vermillion"] if llr > 0 else (OKABE_ITO["blue"] if llr < 0 else "0.8")
        rows.append((text, cum, llr, colour, "//" if expert else None))
        cum += llr
    post_lo = _logit(posterior_tp)
    if abs(post_lo - cum) > 0.01:
        rows.append(("adjustment (not itemised by the engine)", cum, post_lo - cum, OKABE_ITO["purple"], None))
    post_label = f"posterior ({posterior_tp * 100:.0f} %"
    if interval95 is not None and len(interval95) == 2:
        post_label += f"; 95 % interval {interval95[0] * 100:.0f}–{interval95[1] * 100:.0f} %"
    post_label += ")"
    rows.append((post_label, 0.0, post_lo, OKABE_ITO["black"], None))
    n = len(rows)
    with style_context():
        fig = new_figure(12.0, 2.0 + 0.62 * n)
        ax = fig.subplots()
        ypos = np.arange(n)[::-1]
        for y, (_text, start, length, colour, hatch) in zip(ypos, rows, strict=True):
            ax.barh(y, length, left=start, color=colour, edgecolor="black", hatch=hatch, height=0.6)
        if interval95 is not None and len(interval95) == 2:
            lo, hi = _logit(interval95[0]), _logit(interval95[1])
            ax.errorbar([post_lo], [ypos[-1]], xerr=[[post_lo - lo], [hi - post_lo]], fmt="none",
                        ecolor=OKABE_ITO["orange"], elinewidth=3, capsize=8, capthick=3)
        for y in ypos[1:-1]:
            ax.axhline(y, color="0.92", linewidth=0.8, zorder=0)
        ax.axvline(0.0, color="0.3", linewidth=1.0, linestyle=":")
        ax.set_yticks(ypos)
        ax.set_yticklabels([_wrap(r[0]) for r in rows], fontsize=11)
        probs = [0.01, 0.05, 0.1, 0.25, 0.5, 0.75, 0.9, 0.95, 0.99]
        all_x = [0.0] + [r[1] for r in rows] + [r[1] + r[2] for r in rows]
        if interval95 is not None and len(interval95) == 2:
            all_x += [_logit(interval95[0]), _logit(interval95[1])]
        xmin, xmax = min(all_x) - 0.3, max(all_x) + 0.3
        ticks = [p for p in probs if xmin <= _logit(p) <= xmax]
        ax.set_xlim(xmin, xmax)
        ax.set_xticks([_logit(p) for p in ticks])
        ax.set_xticklabels([f"{p * 100:g} %" for p in ticks])
        ax.set_xlabel("probability of progression (log-odds scale)")
        handles = [
            Patch(facecolor=OKABE_ITO["vermillion"], edgecolor="black", label="favours progression"),
            Patch(facecolor=OKABE_ITO["blue"], edgecolor="black", label="favours necrosis"),
        ]
        if any_expert:
            handles.append(Patch(facecolor="white", edgecolor="black", hatch="//", label="expert opinion (weak)"))
        fig.legend(handles=handles, loc="outside lower center", ncol=len(handles), frameon=False, fontsize=11)
        ax.set_title(title)
        return png_bytes(fig)


def value_of_information(
    voi: Sequence[Mapping[str, Any]] | Mapping[str, Mapping[str, Any]],
    *,
    current_tp: float | None = None,
    title: str = "What the next test could change",
) -> bytes:
    """Per test not yet done: the probability of progression if it came back positive and if
    negative (dumbbell plot), with the current posterior as a vertical line.

    Parameters
    ----------
    voi
        A list of dicts (or a dict keyed by test) with ``posterior_if_positive``,
        ``posterior_if_negative`` (0..1) and optionally ``label``/``test`` and ``p_positive``.
    current_tp
        The current posterior probability of progression (0..1).
    """
    rows = voi_rows(voi)
    good = []
    for r in rows:
        pp, pn = r.get("posterior_if_positive"), r.get("posterior_if_negative")
        if pp is None or pn is None:
            continue
        if not (0.0 <= float(pp) <= 1.0 and 0.0 <= float(pn) <= 1.0):
            raise ValueError(f"value of information for {r.get('test')!r}: posteriors must be in 0..1")
        good.append(r)
    if not good:
        raise ValueError("value_of_information needs at least one test with posterior_if_positive/negative")
    n = len(good)
    with style_context():
        fig = new_figure(12.0, 1.8 + 0.6 * n)
        ax = fig.subplots()
        ypos = np.arange(n)[::-1]
        labels = []
        for y, r in zip(ypos, good, strict=True):
            pp, pn = float(r["posterior_if_positive"]) * 100, float(r["posterior_if_negative"]) * 100
            ax.plot([pn, pp], [y, y], color="0.5", linewidth=3, zorder=1)
            ax.scatter([pn], [y], s=120, color=OKABE_ITO["blue"], marker="o", zorder=2, edgecolor="black")
            ax.scatter([pp], [y], s=120, color=OKABE_ITO["vermillion"], marker="s", zorder=2, edgecolor="black")
            name = str(r.get("label") or r.get("test") or r.get("id") or "test")
            if r.get("p_positive") is not None:
                name += f" (P(positive) {float(r['p_positive']) * 100:.0f} %)"
            labels.append(_wrap(name))
        if current_tp is not None:
            ax.axvline(float(current_tp) * 100, color="black", linestyle="--", linewidth=1.8,
                       label=f"current {float(current_tp) * 100:.0f} %")
        ax.scatter([], [], s=120, color=OKABE_ITO["vermillion"], marker="s", edgecolor="black",
                   label="if positive")
        ax.scatter([], [], s=120, color=OKABE_ITO["blue"], marker="o", edgecolor="black", label="if negative")
        ax.set_yticks(ypos)
        ax.set_yticklabels(labels)
        ax.set_xlim(0, 100)
        ax.set_ylim(-0.7, n - 0.3)
        ax.set_xlabel("probability of progression after the test (%)")
        ax.grid(True, axis="x", color="0.85")
        ax.legend(loc="best", fontsize=11)
        ax.set_title(title)
        return png_bytes(fig)


__all__ = ["evidence_contributions", "value_of_information"]
