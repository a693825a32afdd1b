"""A short terminal summary of an :class:`radnec.case.Analysis` (rich)."""

from __future__ import annotations

from pathlib import Path
from typing import Any

from radnec.case import Analysis


def _fmt(x: Any, nd: int = 1, unit: str = "") -> str:
    if x is None:
        return "—"
    if isinstance(x, float):
        return f"{x:.{nd}f}{(' ' + unit) if unit else ''}"
    return f"{x}{(' ' + unit) if unit else ''}"


def print_summary(analysis: Analysis, console: Any, *, out_dir: Path | None = None) -> None:
    """Print plan, per-lesion findings, the probability of progression and where the outputs are."""
    from rich.table import Table

    p = analysis.plan
    if p is not None:
        console.print(
            f"[bold]Plan[/bold]: {_fmt(p.prescription_gy)} Gy in {p.fractions} fraction(s), {p.technique}; "
            f"V12 {_fmt(p.v12_cc, 2, 'cm³')}, CI {_fmt(p.conformity_index_paddick, 2)} (Paddick), GI {_fmt(p.gradient_index, 2)}"
        )
    for row in analysis.series_used:
        if row["role"] == "T1c":
            why = f" — {row['reason']}" if row.get("reason") else ""
            console.print(f"[dim]{row['study']} ({row['date']}): T1c {row['description']!r}{why}[/dim]")
    if len(analysis.overview) > 1:
        table = Table(title="Lesions at a glance", show_lines=False)
        for col in ("lesion", "target (Rx)", "status", "latest cm³", "change", "pattern", "symmetry", "P(progression)"):
            table.add_column(col)
        for r in analysis.overview:
            mark = "[bold]" if r["flagged"] else ""
            rx = f" ({_fmt(r['prescription_gy'])} Gy)" if r.get("prescription_gy") else ""
            change = f"{r['change_pct']:+.0f} %" if r.get("change_pct") is not None else "—"
            table.add_row(
                r["lesion"], f"{r['target'] or '—'}{rx}", f"{mark}{r['status'] or '—'}", _fmt(r.get("latest_lesion_cc"), 2),
                change, r.get("pattern") or "—", r.get("symmetry") or "—", _fmt(r.get("posterior_tp"), 2),
            )
        console.print(table)
    for lesion in analysis.lesions:
        table = Table(title=f"{lesion.name}" + (f" — {lesion.status}" if lesion.status else ""), show_lines=False)
        for col in ("date", "days", "enhancing cm³", "necrotic cm³", "edema cm³", "LD mm", "edema/T1c", "pattern", "RANO-BM"):
            table.add_column(col)
        for tp in lesion.timepoints:
            table.add_row(
                tp.date or "—",
                _fmt(tp.days_since_srs),
                _fmt(tp.enhancing_cc, 2),
                _fmt(tp.necrotic_cc, 2),
                _fmt(tp.edema_cc, 2),
                _fmt(tp.longest_diameter_mm, 1),
                _fmt(tp.edema_enhancement_ratio, 1),
                tp.enhancement_pattern or "—",
                tp.rano_bm_category or "—",
            )
        console.print(table)
        if lesion.dose is not None:
            c = lesion.dose.coverage_pct
            console.print(
                f"Dose to the lesion: Dmin {_fmt(lesion.dose.dmin_gy)} Gy, Dmean {_fmt(lesion.dose.dmean_gy)} Gy; "
                f"inside 100/80/50 % Rx: {_fmt(c.rx100, 0)}/{_fmt(c.rx80, 0)}/{_fmt(c.rx50, 0)} %"
            )
        if lesion.pattern:
            console.print(f"Pattern: [bold]{lesion.pattern}[/bold]; growth {lesion.growth_symmetry or '—'} about the high-dose region")
        ev = lesion.evidence
        if ev:
            lo, hi = ev.get("interval95", [None, None])
            console.print(
                f"P(progression): prior {ev['prior_tp']:.2f} → [bold]{ev['posterior_tp']:.2f}[/bold] "
                f"(95 % interval {lo:.2f}–{hi:.2f}); next most informative test: {ev.get('next_best_test') or '—'}"
            )
        if lesion.options:
            names = ", ".join(f"{o.get('name', o.get('id'))} ({o.get('fit')})" for o in lesion.options[:5])
            console.print(f"Options to discuss: {names}")
    for w in analysis.warnings:
        console.print(f"[yellow]warning:[/yellow] {w}")
    for s in analysis.skipped:
        console.print(f"[dim]skipped: {s}[/dim]")
    if out_dir is not None:
        console.print(f"Outputs: {out_dir / 'analysis.json'}  {out_dir / 'report.html'}")
    console.print(f"[italic]{analysis.disclaimer}[/italic]")
