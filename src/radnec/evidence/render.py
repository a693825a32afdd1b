"""Rendering of an assessment: the rich terminal summary (``radnec assess``) and plain-text lines shared
with the HTML report (what the probability is about, each cue used or not, how fragile it is)."""

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
        elif w.startswith("EXTRAPOLATED"):
            tags.append("extrapolated")
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


def short_source(item: dict[str, Any]) -> str:
    """First citation of an item, shortened to its authors/title start (the full list is in the JSON)."""
    cites = item.get("citation") or []
    if not cites:
        return item.get("source") or ""
    first = cites[0]
    return first if len(first) <= 70 else first[:67] + "..."


def summary_lines(ev: dict[str, Any]) -> dict[str, Any]:
    """Plain-text pieces of an evidence block, for the terminal and the report.

    Returns
    -------
    dict
        ``headline``, ``space`` (what the probability is about), ``exclusion`` (reason or None),
        ``interval_cutoff``, ``clinicians`` (the board's estimate beside the engine's, or None),
        ``used`` / ``absent`` / ``not_used`` (rows), ``leave_one_out`` (rows), ``mixed`` (text or None),
        ``missing`` (cues not given).
    """
    hyp = ev.get("hypotheses") if isinstance(ev.get("hypotheses"), dict) else {}
    interval = ev.get("interval95")
    cut = ev.get("interval95_cutoff")
    used, absent, not_used = [], [], []
    for it in ev.get("items") or []:
        if not isinstance(it, dict):
            continue
        if it.get("used") and abs(it.get("log_lr") or 0.0) > 1e-12:
            used.append(it)
        elif it.get("used"):
            absent.append(it)
        else:
            not_used.append(it)
    est = ev.get("clinician_estimate") if isinstance(ev.get("clinician_estimate"), dict) else None
    mixed = ev.get("mixed")
    return {
        "headline": None
        if ev.get("posterior_tp") is None or not interval
        else f"{_pct(ev['posterior_tp'])} (95 % interval {_pct(interval[0])}-{_pct(interval[1])}; {ev.get('band')})",
        "space": hyp.get("space", "progression vs radiation necrosis"),
        "exclusion": hyp.get("reason") if hyp.get("necrosis_excluded") else None,
        "dose_note": None if hyp.get("necrosis_excluded") or not hyp.get("lesion_dose") else hyp.get("reason"),
        "interval_cutoff": None if not cut or len(cut) != 2 else f"{_pct(cut[0])}-{_pct(cut[1])}",
        "clinicians": None
        if not est
        else f"tumour board's estimate {_pct(est['p_progression'])}"
        + (f" ({est['wording']})" if est.get("wording") else "")
        + f" — engine {_pct(est['engine_posterior'])}",
        "used": used,
        "absent": absent,
        "not_used": not_used,
        "leave_one_out": [r for r in ev.get("leave_one_out") or [] if isinstance(r, dict)],
        "mixed": None
        if not isinstance(mixed, dict) or hyp.get("necrosis_excluded")
        else f"P(any viable tumour) {_pct(mixed['p_any_viable_tumour'])} (95 % {_pct(mixed['interval95'][0])}-"
        f"{_pct(mixed['interval95'][1])}) vs P(pure treatment effect) {_pct(mixed['p_pure_treatment_effect'])}",
        "missing": ev.get("missing_cues") or [],
    }


def render_assessment(result: dict[str, Any], console) -> None:  # noqa: ANN001 - rich Console
    """Print the summary: what the probability is about, prior → posterior, each cue used or not, how
    fragile it is, value of information, biopsy, options, caveats."""
    from rich.panel import Panel
    from rich.table import Table

    ev = result["evidence"]
    s = summary_lines(ev)
    head = (
        f"[bold]{'P(tumour)' if s['exclusion'] else 'P(tumour progression)'}[/bold]  prior {_pct(ev['prior_tp'])}"
        + (f" (range {_pct(ev['prior_range'][0])}-{_pct(ev['prior_range'][1])})" if ev.get("prior_range") else "")
        + f"  →  posterior [bold]{s['headline']}[/bold]"
        + (f"\nwith cut-off uncertainty: {s['interval_cutoff']}" if s["interval_cutoff"] else "")
        + f"\nhypotheses: {s['space']}"
    )
    console.print(Panel(head, title=result.get("case_label") or "radnec assess", subtitle="decision support, not a diagnosis"))
    if s["exclusion"]:
        console.print(f"[bold red]{s['exclusion']}[/bold red]")
    elif s["dose_note"]:
        console.print(s["dose_note"])
    if s["clinicians"]:
        console.print(f"[bold]Beside the engine:[/bold] {s['clinicians']}")

    if s["used"]:
        t = Table(title="Cues used (LR > 1 favours progression)")
        for col in ("cue", "value", "LR", "weight", "source"):
            t.add_column(col, overflow="fold")
        for it in s["used"]:
            t.add_row(f"{it['label']}{_tags(it)}", f"{_fmt(it['value'])} ({it['result']})", f"{it['lr']:.2f}", f"{it['weight']:g}", short_source(it))
        console.print(t)
    else:
        console.print("Cues used: none moved the probability from the prior.")
    if s["absent"]:
        console.print("Risk factors checked and absent (LR 1): " + "; ".join(it["label"] for it in s["absent"]))
    n = Table(title="Considered, not used")
    for col in ("cue", "value", "why not"):
        n.add_column(col, overflow="fold")
    for it in s["not_used"]:
        n.add_row(it["observation"], _fmt(it["value"]), it["reason"] or "")
    console.print(n)

    if s["leave_one_out"]:
        lt = Table(title="Leave one out: the probability without each cue")
        for col in ("cue", "without it", "odds ×", "fragile"):
            lt.add_column(col, overflow="fold")
        for row in s["leave_one_out"]:
            lt.add_row(row["label"], _pct(row["posterior_without"]), f"{row['odds_factor']:.2g}", "YES" if row["fragile"] else "")
        console.print(lt)
    if s["mixed"]:
        console.print(f"Mixed lesions: {s['mixed']}")
    if s["missing"]:
        console.print("Not given (would help): " + "; ".join(s["missing"]))

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
