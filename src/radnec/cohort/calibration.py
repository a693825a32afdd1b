"""Calibration of the evidence engine on a cohort with known outcomes.

Outcomes CSV: ``case``, ``lesion``, ``outcome`` ∈ {progression, necrosis, mixed}, ``reference`` ∈
{histology, follow-up}. A *mixed* lesion (viable tumour and necrosis) is counted as progression — it
holds viable tumour, which is what the engine's P(progression) is about — and the output says so.

Methods
-------
- **AUC**: the Mann–Whitney form, AUC = U / (n₁ n₀) with U from :func:`scipy.stats.mannwhitneyu`
  (ties count ½). 95 % CI: percentile bootstrap with a seeded ``numpy`` Generator, resampling the
  progression and the necrosis lesions separately (stratified, so that every resample holds both
  classes), :data:`N_BOOT` resamples.
- **Brier score**: mean of (p − y)².
- **Calibration curve**: :data:`N_BINS` equal-width bins of the predicted probability; mean predicted vs
  observed fraction per bin, with n.
- **Calibration intercept and slope** (logistic recalibration, Van Calster et al. 2016): the slope is
  b in logit P(y=1) = a + b·logit(p); the intercept ("calibration in the large") is a in
  logit P(y=1) = a + logit(p) (slope fixed at 1). Both are maximum-likelihood fits with
  :func:`scipy.optimize.minimize` (BFGS, analytic gradient); perfect: intercept 0, slope 1.
- **Decision curve** (Vickers & Elkin 2006): net benefit = TP/n − FP/n · t/(1 − t) of "treat as
  progression when p ≥ t", next to treat-all and treat-none (0).
- **Per evidence item**: the 2×2 counts of its result (+/−) against the outcome over the lesions where
  it was used; LR+ = sens/(1 − spec), LR− = (1 − sens)/spec with the log-method 95 % CI (Simel et al.
  1991). Only when a cell is 0, 0.5 is added to all four cells (Haldane correction), and the item says
  so. Shown next to the knowledge base's cited LR (uncapped and as the engine caps it).
- **Local prior** (optional): the cohort's proportion of progression with its Clopper–Pearson 95 % CI
  (:func:`scipy.stats.binomtest`).
"""

from __future__ import annotations

import csv
import datetime as dt
import math
from collections.abc import Sequence
from pathlib import Path
from typing import Any

import numpy as np

from radnec.errors import InputError

N_BOOT = 2000
N_BINS = 10
OUTCOMES = ("progression", "necrosis", "mixed")
REFERENCES = ("histology", "follow-up")
MIXED_NOTE = "mixed lesions (viable tumour with necrosis) are counted as progression"
Z95 = 1.959963984540054


def auc(p: Sequence[float], y: Sequence[int]) -> float | None:
    """Area under the ROC curve (Mann–Whitney U / (n₁ n₀)); None without both classes."""
    from scipy.stats import mannwhitneyu

    pa, ya = np.asarray(p, float), np.asarray(y, int)
    pos, neg = pa[ya == 1], pa[ya == 0]
    if len(pos) == 0 or len(neg) == 0:
        return None
    u = mannwhitneyu(pos, neg, alternative="two-sided").statistic
    return float(u) / (len(pos) * len(neg))


def auc_ci(p: Sequence[float], y: Sequence[int], *, seed: int = 0, n_boot: int = N_BOOT) -> dict[str, Any]:
    """AUC with a stratified percentile-bootstrap 95 % CI (seeded numpy Generator)."""
    point = auc(p, y)
    method = f"Mann-Whitney U (scipy.stats.mannwhitneyu); stratified percentile bootstrap, {n_boot} resamples, numpy seed {seed}"
    if point is None:
        return {"point": None, "ci95": None, "method": method, "note": "needs lesions of both outcomes"}
    from scipy.stats import rankdata

    pa, ya = np.asarray(p, float), np.asarray(y, int)
    pos, neg = pa[ya == 1], pa[ya == 0]
    rng = np.random.default_rng(seed)
    bp = pos[rng.integers(0, len(pos), size=(n_boot, len(pos)))]
    bn = neg[rng.integers(0, len(neg), size=(n_boot, len(neg)))]
    # vectorised Mann-Whitney: U = rank sum of the positives - n1(n1+1)/2 (mid-ranks for ties)
    ranks = rankdata(np.concatenate([bp, bn], axis=1), axis=1)
    u = ranks[:, : len(pos)].sum(axis=1) - len(pos) * (len(pos) + 1) / 2.0
    boot = u / (len(pos) * len(neg))
    lo, hi = np.percentile(boot, [2.5, 97.5])
    return {"point": round(point, 4), "ci95": [round(float(lo), 4), round(float(hi), 4)], "method": method}


def brier(p: Sequence[float], y: Sequence[int]) -> float:
    """Brier score: mean squared difference between predicted probability and outcome (0/1)."""
    pa, ya = np.asarray(p, float), np.asarray(y, float)
    return float(np.mean((pa - ya) ** 2))


def calibration_curve(p: Sequence[float], y: Sequence[int], *, bins: int = N_BINS) -> list[dict[str, Any]]:
    """Equal-width bins of p: [low, high), n, mean predicted, observed fraction (non-empty bins only)."""
    pa, ya = np.asarray(p, float), np.asarray(y, float)
    edges = np.linspace(0.0, 1.0, bins + 1)
    idx = np.clip(np.digitize(pa, edges[1:-1]), 0, bins - 1)
    out = []
    for b in range(bins):
        sel = idx == b
        if sel.any():
            out.append({"low": round(float(edges[b]), 3), "high": round(float(edges[b + 1]), 3), "n": int(sel.sum()),
                        "mean_predicted": round(float(pa[sel].mean()), 4), "observed": round(float(ya[sel].mean()), 4)})
    return out


def _logit(p: np.ndarray) -> np.ndarray:
    q = np.clip(p, 1e-6, 1.0 - 1e-6)
    return np.log(q) - np.log1p(-q)


def calibration_intercept_slope(p: Sequence[float], y: Sequence[int]) -> dict[str, Any]:
    """Calibration intercept (offset model, slope 1) and slope (logistic recalibration of logit p).

    Maximum likelihood with :func:`scipy.optimize.minimize` (BFGS, analytic gradient). ``converged`` is
    False when the optimiser did not converge (e.g. perfectly separated outcomes: the slope diverges).
    """
    from scipy.optimize import minimize
    from scipy.special import expit, log_expit

    x, ya = _logit(np.asarray(p, float)), np.asarray(y, float)
    if ya.min() == ya.max():
        return {"intercept": None, "slope": None, "converged": False, "note": "needs lesions of both outcomes"}

    def nll(theta: np.ndarray, slope_free: bool) -> tuple[float, np.ndarray]:
        a, b = (theta[0], theta[1]) if slope_free else (theta[0], 1.0)
        z = a + b * x
        value = -float(np.sum(ya * log_expit(z) + (1.0 - ya) * log_expit(-z)))
        r = expit(z) - ya
        grad = np.array([r.sum(), (r * x).sum()]) if slope_free else np.array([r.sum()])
        return value, grad

    fit2 = minimize(nll, np.array([0.0, 1.0]), args=(True,), jac=True, method="BFGS")
    fit1 = minimize(nll, np.array([0.0]), args=(False,), jac=True, method="BFGS")
    return {
        "intercept": round(float(fit1.x[0]), 4),
        "slope": round(float(fit2.x[1]), 4),
        "slope_model_intercept": round(float(fit2.x[0]), 4),
        "converged": bool(fit1.success and fit2.success),
        "method": "logistic recalibration, maximum likelihood (scipy.optimize.minimize, BFGS); intercept with logit(p) "
                  "as offset (slope 1), slope from logit P = a + b logit(p)",
    }


def decision_curve(p: Sequence[float], y: Sequence[int], thresholds: Sequence[float] | None = None) -> dict[str, Any]:
    """Net benefit of treating as progression when p ≥ t, of treating all, and of treating none."""
    pa, ya = np.asarray(p, float), np.asarray(y, int)
    ts = np.round(np.arange(0.05, 0.96, 0.05), 2) if thresholds is None else np.asarray(thresholds, float)
    n = len(pa)
    prev = ya.mean() if n else 0.0
    model, treat_all = [], []
    for t in ts:
        w = t / (1.0 - t)
        pos = pa >= t
        model.append(round(float(np.sum(pos & (ya == 1)) / n - np.sum(pos & (ya == 0)) / n * w), 4))
        treat_all.append(round(float(prev - (1.0 - prev) * w), 4))
    return {"thresholds": [float(t) for t in ts], "model": model, "treat_all": treat_all, "treat_none": [0.0] * len(ts)}


def item_lr(tp: int, fn: int, tn: int, fp: int) -> dict[str, Any]:
    """LR+ and LR− from a 2×2 table with log-method 95 % CIs; 0.5 added to every cell only when one is 0.

    ``tp``/``fn``: progression lesions with the result +/−; ``tn``/``fp``: necrosis lesions −/+.
    Returns None LRs when a class is empty.
    """
    counts = {"tp": tp, "fn": fn, "tn": tn, "fp": fp}
    if tp + fn == 0 or tn + fp == 0:
        return {"counts": counts, "haldane": False, "lr_positive": None, "lr_negative": None,
                "note": "needs lesions of both outcomes"}
    haldane = min(tp, fn, tn, fp) == 0
    a, c, d, b = (v + 0.5 if haldane else float(v) for v in (tp, fn, tn, fp))
    sens, spec = a / (a + c), d / (b + d)
    lr_pos, lr_neg = sens / (1.0 - spec), (1.0 - sens) / spec
    se_pos = math.sqrt(1 / a - 1 / (a + c) + 1 / b - 1 / (b + d))
    se_neg = math.sqrt(1 / c - 1 / (a + c) + 1 / d - 1 / (b + d))

    def spec_of(lr: float, se: float) -> dict[str, Any]:
        return {"point": round(lr, 4), "ci95": [round(lr * math.exp(-Z95 * se), 4), round(lr * math.exp(Z95 * se), 4)]}

    out = {"counts": counts, "haldane": haldane, "lr_positive": spec_of(lr_pos, se_pos), "lr_negative": spec_of(lr_neg, se_neg),
           "sensitivity": round(sens, 4), "specificity": round(spec, 4)}
    if haldane:
        out["note"] = "a cell was 0: 0.5 added to all four cells (Haldane correction)"
    return out


def read_outcomes(path: str | Path) -> list[dict[str, str]]:
    """Rows of an outcomes CSV (case, lesion, outcome, reference), validated."""
    src = Path(path)
    try:
        with src.open(newline="", encoding="utf-8") as fh:
            reader = csv.DictReader(fh)
            missing = {"case", "lesion", "outcome", "reference"} - set(reader.fieldnames or [])
            if missing:
                raise InputError(f"outcomes CSV lacks the column(s) {', '.join(sorted(missing))}", path=src)
            rows = [{k: (v or "").strip() for k, v in r.items() if k} for r in reader]
    except OSError as exc:
        raise InputError(f"cannot read the outcomes CSV: {exc.strerror}", path=src) from exc
    for i, r in enumerate(rows, start=2):
        if r["outcome"] not in OUTCOMES:
            raise InputError(f"line {i}: outcome {r['outcome']!r} must be one of {', '.join(OUTCOMES)}", path=src)
        if r["reference"] not in REFERENCES:
            raise InputError(f"line {i}: reference {r['reference']!r} must be one of {', '.join(REFERENCES)}", path=src)
    return rows


def _item_table(matched: list[tuple[dict[str, Any], int]]) -> list[dict[str, Any]]:
    from radnec.evidence.engine import point_lr
    from radnec.evidence.model import load_knowledge

    kb = load_knowledge()
    lo, hi = kb.convention("lr_cap_min"), kb.convention("lr_cap_max")
    ids = sorted({k.split(":", 1)[1] for row, _ in matched for k in row if k.startswith("result:")})
    items = []
    for item_id in ids:
        cells = {"tp": 0, "fn": 0, "tn": 0, "fp": 0}
        for row, y in matched:
            res = row.get(f"result:{item_id}")
            if res is None:
                continue
            key = ("tp" if res == "+" else "fn") if y == 1 else ("fp" if res == "+" else "tn")
            cells[key] += 1
        entry: dict[str, Any] = {"id": item_id, "n": sum(cells.values()), **item_lr(**cells)}
        try:
            item = kb.item(item_id)
        except Exception:  # noqa: BLE001 - an item of an older knowledge base: no cited value to show
            item = None
        if item is not None:
            cited = {r: point_lr(item, r) for r in ("+", "−")}
            entry.update(
                label=item.label,
                cited_lr_positive=None if math.isinf(cited["+"]) else round(cited["+"], 4),
                cited_lr_negative=None if math.isinf(cited["−"]) else round(cited["−"], 4),
                cited_lr_positive_capped=round(min(max(cited["+"], lo), hi), 4),
                cited_lr_negative_capped=round(min(max(cited["−"], lo), hi), 4),
                cited_sources=item.sources,
            )
        items.append(entry)
    return items


def calibrate(rows: Sequence[dict[str, Any]], outcomes: str | Path, *, seed: int = 0) -> dict[str, Any]:
    """Calibration of the cohort table's posteriors against the outcomes file (see the module docstring)."""
    from scipy.stats import binomtest

    from radnec.evidence.model import load_knowledge

    truth = read_outcomes(outcomes)
    by_key = {(r["case"], r["lesion"]): r for r in rows if r.get("status") == "done" and r.get("posterior_tp") is not None}
    matched: list[tuple[dict[str, Any], int]] = []
    unmatched, refs = [], {"histology": 0, "follow-up": 0}
    counts = {o: 0 for o in OUTCOMES}
    pattern: dict[str, dict[str, int]] = {}
    for t in truth:
        row = by_key.get((t["case"], t["lesion"]))
        if row is None:
            unmatched.append(f"{t['case']}/{t['lesion']}")
            continue
        matched.append((row, 0 if t["outcome"] == "necrosis" else 1))
        counts[t["outcome"]] += 1
        refs[t["reference"]] += 1
        cell = pattern.setdefault(str(row.get("pattern")), {o: 0 for o in OUTCOMES})
        cell[t["outcome"]] += 1
    p = [float(r["posterior_tp"]) for r, _ in matched]
    y = [v for _, v in matched]
    kb = load_knowledge()
    result: dict[str, Any] = {
        "outcomes_file": str(Path(outcomes).resolve()),
        "n": len(matched), "n_progression": int(sum(y)), "n_necrosis": len(y) - int(sum(y)), "outcome_counts": counts,
        "mixed_note": MIXED_NOTE, "references": refs, "unmatched": unmatched,
        "auc": auc_ci(p, y, seed=seed),
        "brier": round(brier(p, y), 4) if p else None,
        "calibration_curve": calibration_curve(p, y) if p else [],
        "calibration": calibration_intercept_slope(p, y) if p else {},
        "decision_curve": decision_curve(p, y) if p else {},
        "items": _item_table(matched),
        "pattern_outcome": pattern,
        "cited_prior": {"point": kb.prior.point, "range": list(kb.prior.range), "sources": kb.prior.sources},
        "date": dt.date.today().isoformat(),
        "seed": seed,
    }
    if matched:
        ci = binomtest(int(sum(y)), len(y)).proportion_ci(confidence_level=0.95, method="exact")
        result["local_prior"] = {"point": round(sum(y) / len(y), 4), "ci95": [round(ci.low, 4), round(ci.high, 4)],
                                 "method": "proportion of progression, Clopper-Pearson 95 % CI (scipy.stats.binomtest)"}
    return result


def write_override(calibration: dict[str, Any], path: Path, *, cohort: str, refit_prior: bool = False) -> Path:
    """Write the knowledge-override YAML the engine loads with ``--knowledge-override`` (see
    :mod:`radnec.evidence.override`): every item with both outcomes among its lesions, and the local
    prior when ``refit_prior`` (and it lies strictly inside (0, 1))."""
    import os

    import yaml

    from radnec import __version__

    items = {}
    for it in calibration["items"]:
        if it.get("lr_positive") is None:
            continue
        items[it["id"]] = {"counts": it["counts"], "haldane": it["haldane"], "lr_positive": it["lr_positive"],
                           "lr_negative": it["lr_negative"], "cited_lr_positive": it.get("cited_lr_positive"),
                           "cited_lr_negative": it.get("cited_lr_negative")}
    doc: dict[str, Any] = {
        "schema_version": 1,
        "provenance": {
            "cohort": cohort, "n_lesions": calibration["n"], "n_progression": calibration["n_progression"],
            "n_necrosis": calibration["n_necrosis"], "date": calibration["date"], "radnec_version": __version__,
            "outcomes_file": calibration["outcomes_file"], "references": calibration["references"],
            "method": "LR+/LR- re-estimated from the cohort's 2x2 counts (log-method 95 % CI; Haldane +0.5 only when a "
                      "cell is 0); " + MIXED_NOTE,
        },
        "items": items,
    }
    lp = calibration.get("local_prior")
    if refit_prior and lp and 0.0 < lp["point"] < 1.0 and 0.0 < lp["ci95"][0] and lp["ci95"][1] < 1.0:
        doc["prior"] = {"point": lp["point"], "range": lp["ci95"], "method": lp["method"]}
    tmp = path.with_name(f".{path.name}.{os.getpid()}.tmp")
    tmp.write_text("# radnec knowledge override: a LOCAL calibration; the cited knowledge base stays the default.\n"
                   + yaml.safe_dump(doc, sort_keys=False, allow_unicode=True), encoding="utf-8")
    os.replace(tmp, path)
    return path


__all__ = ["auc", "auc_ci", "brier", "calibration_curve", "calibration_intercept_slope", "decision_curve", "item_lr",
           "read_outcomes", "calibrate", "write_override", "MIXED_NOTE"]
