"""``OUT/cohort.html``: a self-contained summary page (Jinja2; matplotlib pictures as base64 PNG).

Distributions of the posterior and the latest volumes, the failures, and with outcomes the pattern ×
outcome table, the calibration curve, the decision curve and the per-item likelihood ratios.
"""

from __future__ import annotations

import base64
import io
from collections.abc import Sequence
from pathlib import Path
from typing import Any

from radnec import DISCLAIMER

TEMPLATE = """<!doctype html>
<html lang="en"><head><meta charset="utf-8"><title>radnec cohort {{ s.cohort }}</title>
<style>body{font-family:sans-serif;margin:2em;max-width:70em}table{border-collapse:collapse;margin:1em 0}
td,th{border:1px solid #bbb;padding:.2em .5em;text-align:right}th{background:#eee}td.l{text-align:left}
.disclaimer{background:#fff3cd;padding:.6em;border:1px solid #e0c36a}img{max-width:32em;margin-right:1em}</style></head>
<body><h1>radnec cohort: {{ s.cohort }}</h1>
<p class="disclaimer">{{ disclaimer }}</p>
<p>{{ s.n_cases }} cases ({{ s.ran|length }} analysed in this run, {{ s.skipped|length }} unchanged and reused,
{{ s.failed|length }} failed), {{ s.n_rows }} table rows, {{ '%.1f'|format(s.wall_s) }} s on {{ s.n_workers }} worker(s)
({{ s.scheduler }}). Table: <code>cohort.parquet</code>, <code>cohort.csv</code>.</p>
{% if s.worker_peak_memory_mb %}<h2>Peak memory per worker</h2><table><tr><th>worker</th><th>peak MB</th></tr>
{% for w, mb in s.worker_peak_memory_mb.items() %}<tr><td class="l">{{ w }}</td><td>{{ mb }}</td></tr>{% endfor %}</table>{% endif %}
<h2>Distributions</h2>{% for img in pictures %}<img alt="{{ img.alt }}" src="data:image/png;base64,{{ img.data }}">{% endfor %}
{% if failures %}<h2>Failures</h2><table><tr><th>case</th><th>error</th></tr>
{% for f in failures %}<tr><td class="l">{{ f.case }}</td><td class="l">{{ f.error }}</td></tr>{% endfor %}</table>{% endif %}
{% if c %}<h2>Calibration against the outcomes ({{ c.n }} lesions)</h2>
<p>{{ c.n_progression }} progression, {{ c.n_necrosis }} necrosis ({{ c.mixed_note }}; {{ c.outcome_counts.mixed }} mixed);
reference: {{ c.references.histology }} histology, {{ c.references['follow-up'] }} follow-up.
{% if c.unmatched %}Outcomes without a table row: {{ c.unmatched|join(', ') }}.{% endif %}</p>
<table><tr><th>AUC (95 % CI)</th><th>Brier</th><th>calibration intercept</th><th>calibration slope</th></tr>
<tr><td>{{ c.auc.point }} {% if c.auc.ci95 %}({{ c.auc.ci95[0] }}–{{ c.auc.ci95[1] }}){% endif %}</td><td>{{ c.brier }}</td>
<td>{{ c.calibration.intercept }}</td><td>{{ c.calibration.slope }}{% if not c.calibration.converged %} (not converged){% endif %}</td></tr></table>
<p><small>{{ c.auc.method }}. {{ c.calibration.method }}.</small></p>
<h3>Pattern × outcome</h3><table><tr><th>pattern</th><th>progression</th><th>necrosis</th><th>mixed</th></tr>
{% for pat, cell in c.pattern_outcome.items() %}<tr><td class="l">{{ pat }}</td><td>{{ cell.progression }}</td><td>{{ cell.necrosis }}</td><td>{{ cell.mixed }}</td></tr>{% endfor %}</table>
<h3>Evidence items re-estimated on this cohort</h3>
<table><tr><th>item</th><th>n</th><th>TP/FN/TN/FP</th><th>local LR+ (95 % CI)</th><th>local LR− (95 % CI)</th><th>cited LR+ / LR−</th></tr>
{% for it in c['items'] %}<tr><td class="l">{{ it.id }}{% if it.haldane %} *{% endif %}</td><td>{{ it.n }}</td>
<td>{{ it.counts.tp }}/{{ it.counts.fn }}/{{ it.counts.tn }}/{{ it.counts.fp }}</td>
<td>{% if it.lr_positive %}{{ it.lr_positive.point }} ({{ it.lr_positive.ci95[0] }}–{{ it.lr_positive.ci95[1] }}){% else %}–{% endif %}</td>
<td>{% if it.lr_negative %}{{ it.lr_negative.point }} ({{ it.lr_negative.ci95[0] }}–{{ it.lr_negative.ci95[1] }}){% else %}–{% endif %}</td>
<td>{{ it.cited_lr_positive_capped }} / {{ it.cited_lr_negative_capped }}</td></tr>{% endfor %}</table>
<p><small>* a cell was 0: 0.5 added to all four cells (Haldane). The cited values stay the default;
<code>knowledge-override.yaml</code> applies the local ones only when passed with --knowledge-override.</small></p>
{% endif %}</body></html>
"""


def _png(fig: Any) -> str:
    import matplotlib.pyplot as plt

    buf = io.BytesIO()
    fig.savefig(buf, format="png", dpi=90, bbox_inches="tight")
    plt.close(fig)
    return base64.b64encode(buf.getvalue()).decode("ascii")


def _pictures(rows: Sequence[dict[str, Any]], calibration: dict[str, Any] | None) -> list[dict[str, str]]:
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    out = []
    post = [r["posterior_tp"] for r in rows if r.get("posterior_tp") is not None]
    vols = [r["latest_lesion_cc"] for r in rows if r.get("latest_lesion_cc") is not None]
    for values, label, alt in ((post, "P(progression)", "posterior distribution"), (vols, "latest lesion volume (cm³)", "volume distribution")):
        fig, ax = plt.subplots(figsize=(4.5, 3))
        ax.hist(values, bins=10, range=(0, 1) if "P(" in label else None, color="#4477aa")
        ax.set_xlabel(label)
        ax.set_ylabel("lesions")
        out.append({"alt": alt, "data": _png(fig)})
    if calibration and calibration.get("calibration_curve"):
        fig, ax = plt.subplots(figsize=(4.5, 3))
        cc = calibration["calibration_curve"]
        ax.plot([0, 1], [0, 1], "k:", lw=1)
        ax.plot([b["mean_predicted"] for b in cc], [b["observed"] for b in cc], "o-")
        ax.set_xlabel("predicted P(progression)")
        ax.set_ylabel("observed fraction")
        out.append({"alt": "calibration curve", "data": _png(fig)})
        dc = calibration["decision_curve"]
        fig, ax = plt.subplots(figsize=(4.5, 3))
        ax.plot(dc["thresholds"], dc["model"], label="radnec")
        ax.plot(dc["thresholds"], dc["treat_all"], label="treat all")
        ax.plot(dc["thresholds"], dc["treat_none"], label="treat none")
        ax.set_ylim(-0.1, max(0.1, max(dc["model"] + dc["treat_all"]) + 0.05))
        ax.set_xlabel("threshold probability")
        ax.set_ylabel("net benefit")
        ax.legend(fontsize=7)
        out.append({"alt": "decision curve", "data": _png(fig)})
    return out


def write_summary(
    rows: Sequence[dict[str, Any]], path: Path, *, summary: dict[str, Any], calibration: dict[str, Any] | None = None
) -> Path:
    """Render the cohort page to ``path`` and return it."""
    import os

    from jinja2 import Environment, select_autoescape

    env = Environment(autoescape=select_autoescape(default=True, default_for_string=True))
    failures = [{"case": r["case"], "error": r.get("error")} for r in rows if r.get("status") != "done"]
    html = env.from_string(TEMPLATE).render(
        s=summary, c=calibration, failures=failures, pictures=_pictures(rows, calibration), disclaimer=DISCLAIMER
    )
    tmp = path.with_name(f".{path.name}.{os.getpid()}.tmp")
    tmp.write_text(html, encoding="utf-8")
    os.replace(tmp, path)
    return path


__all__ = ["write_summary"]
