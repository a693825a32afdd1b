"""Rich rendering of an assessment (``radnec assess`` without ``--json``)."""

from __future__ import annotations

from typing import Any


def _pct(p: float) -> str:
    return f"{100 * p:.0f} %"


def _fmt(value: Any) -> str:
    return f"{value:g}" if isinstance(value, float) else str(value)


def _tags(item: dict[str, Any]) -> str:
    tags = []
    for w in item["warnings"]:
        if w.startswith("EXPERT"):
            tags.append("expert opinion")
        elif w.startswith("glioma"):
            tags.append("glioma-derived")
        elif w.startswith("accuracy from a mixed"):
            tags.append("mixed population")
        elif w.startswith("source attribution"):
            tags.append("unverified source")
        elif w.startswith("LR ") and "capped" in w:
            tags.append("capped")
        elif w.startswith("LR derived"):
            tags.append("derived LR")
    return f" [yellow]\\[{', '.join(tags)}][/yellow]" if tags else ""


def render_assessment(result: dict[str, Any], console) -> None:  # noqa: ANN001 - rich Console
    """Print the summary: prior → posterior, items, value of information, biopsy, options, caveats."""
    from rich.panel import Panel
    from rich.table import Table

    ev = result["evidence"]
    lo, hi = ev["interval95"]
    head = (
        f"[bold]P(tumour progression)[/bold]  prior {_pct(ev['prior_tp'])}"
        + (f" (range {_pct(ev['prior_range'][0])}-{_pct(ev['prior_range'][1])})" if ev.get("prior_range") else "")
        + f"  →  posterior [bold]{_pct(ev['posterior_tp'])}[/bold]  (95 % interval {_pct(lo)}-{_pct(hi)}; {ev['band']})"
    )
    title = result.get("case_label") or "radnec assess"
    console.print(Panel(head, title=title, subtitle="decision support, not a diagnosis"))

    t = Table(title="Evidence items (LR > 1 favours progression)")
    for col in ("item", "value", "LR", "log-LR", "used / why"):
        t.add_column(col, overflow="fold")
    for it in ev["items"]:
        if it["used"]:
            tags = _tags(it) if abs(it["log_lr"] or 0.0) > 0 else ""
            why = "yes" + (f" ×{it['weight']:g} (same family)" if it["weight"] < 1 else "")
            t.add_row(
                f"{it['label']}{tags}",
                f"{_fmt(it['value'])} ({it['result']})",
                f"{it['lr']:.2f}",
                f"{it['log_lr']:+.2f}",
                why,
            )
        else:
            t.add_row(f"[dim]{it['observation']}[/dim]", f"[dim]{_fmt(it['value'])}[/dim]", "", "", f"[dim]no: {it['reason'].split(' (')[0]}[/dim]")
    console.print(t)
    for inf in ev.get("influence", [])[:3]:
        console.print(
            f"Without [bold]{inf['observation']}[/bold] the posterior would be {_pct(inf['posterior_without'])} "
            f"(items: {', '.join(inf['items'])})"
        )

    if ev["value_of_information"]:
        v = Table(title="Value of information: tests not yet done")
        for col in ("test", "P(tumour-like)", "posterior if tumour-like", "if necrosis-like", "E|change|", "crosses band"):
            v.add_column(col)
        for e in sorted(ev["value_of_information"], key=lambda e: -e["expected_abs_change"]):
            v.add_row(
                e["label"],
                f"{e['p_positive']:.2f}",
                f"{e['posterior_if_positive']:.2f}",
                f"{e['posterior_if_negative']:.2f}",
                f"{e['expected_abs_change']:.2f}",
                "yes" if e["could_change_band"] else "no",
            )
        console.print(v)
        if ev["next_best_test"]:
            console.print(f"Largest expected change: [bold]{ev['next_best_test']}[/bold]")
    console.print(Panel(ev["biopsy"]["explanation"], title="What a needle biopsy would mean"))

    o = Table(title="Options (none is 'the answer')", show_lines=True)
    for col in ("option", "fit", "why"):
        o.add_column(col)
    style = {"recommended to discuss": "green", "reasonable": "cyan", "less suitable": "dim"}
    for opt in result["options"]:
        o.add_row(opt["label"], f"[{style[opt['fit']]}]{opt['fit']}[/]", "\n".join(opt["rationale"]))
    console.print(o)
    for w in ev["warnings"]:
        console.print(f"[yellow]warning:[/yellow] {w}")
    for c in ev["caveats"]:
        console.print(f"[bold]caveat:[/bold] {c}")
    console.print(f"[italic]{result['disclaimer']}[/italic]")
