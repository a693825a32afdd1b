"""The HTML report: sections, missing-input notes, self-containment, escaping, determinism."""

from __future__ import annotations

import re
from html.parser import HTMLParser

import pytest

from radnec.errors import InputError
from radnec.report import figures as F
from radnec.report.html import SECTION_IDS, figure_key, render_html, render_report

from .conftest import full_analysis, minimal_analysis


class _Collector(HTMLParser):
    def __init__(self) -> None:
        super().__init__()
        self.ids: list[str] = []
        self.tags: list[str] = []
        self.urls: list[tuple[str, str, str]] = []

    def handle_starttag(self, tag, attrs):  # noqa: ANN001
        self.tags.append(tag)
        for name, value in attrs:
            if name == "id":
                self.ids.append(value)
            if name in {"src", "href", "srcset", "poster", "data", "action"}:
                self.urls.append((tag, name, value or ""))


def _parse(html: str) -> _Collector:
    c = _Collector()
    c.feed(html)
    return c


def test_every_section_present_and_unique(figures, tmp_path):
    path = render_report(full_analysis(), figures, out_dir=tmp_path / "out")
    assert path == tmp_path / "out" / "report.html"
    html = path.read_text(encoding="utf-8")
    ids = _parse(html).ids
    for sid in SECTION_IDS:
        assert ids.count(sid) == 1, sid
    assert len(ids) == len(set(ids)), "duplicate ids"
    # ordered as documented
    positions = [html.index(f'id="{sid}"') for sid in SECTION_IDS]
    assert positions == sorted(positions)


def test_content_of_full_report(figures):
    html = render_html(full_analysis(), figures)
    text = re.sub(r"<[^>]+>", " ", html)
    assert "20.0 Gy" in text and "V12 Gy" in text and "4.80 cm³" in text  # plan summary
    assert "57 %" in text and "31 % – 79 %" in text  # posterior with interval
    assert "expert opinion" in text and "glioma" in text  # flags and population tags
    assert "PMID 19213826" in text  # citation formatting
    assert "POOR REGISTRATION QUALITY" in text  # poor registration flagged loudly
    assert "a negative needle biopsy does not exclude tumour" in text
    assert "recommended to discuss" in text and "Levin VA" in text  # options with citations
    assert "no FLAIR at 2025-03-01: edema not measured" in text  # skipped inputs
    assert text.count("It does not diagnose") == 2  # disclaimer top and bottom
    assert html.count("data:image/png;base64,") == len(figures)
    # views_earliest_enlarging and side_by_side were not given: explained, not crashed
    assert "Figure not available because no enlarging time point" in text
    assert "Figure not available because the planning image" in text


def test_no_patient_identifiers(figures):
    html = re.sub(r"data:image/png;base64,[A-Za-z0-9+/=]+", "", render_html(full_analysis(), figures))
    assert "DOE" not in html and "JANE" not in html
    assert "Omitted as possible patient identifiers: PatientName" in html


def test_missing_blocks_render_notes_not_crash(tmp_path):
    html = render_report(minimal_analysis(), {}, out_dir=tmp_path).read_text(encoding="utf-8")
    ids = _parse(html).ids
    for sid in SECTION_IDS:
        assert sid in ids
    text = re.sub(r"\s+", " ", re.sub(r"<[^>]+>", " ", html))
    assert "plan summary (prescription, fractions, technique, CI/GI/V12) not available because" in text
    assert "no RTDOSE found: dose metrics and isodose lines not computed" in text
    assert "The probability of progression not available because" in text
    assert "no clinical case file: evidence not assessed" in text
    assert "Registration not available because" in text
    assert "no FLAIR: edema not measured" in text
    assert "data:image/png" not in html
    # an analysis without any lesion at all
    empty = minimal_analysis().model_copy(update={"lesions": []})
    html2 = render_html(empty, {})
    for sid in SECTION_IDS:
        assert f'id="{sid}"' in html2


def test_self_contained_no_external_references(figures):
    html = render_html(full_analysis(), figures)
    parsed = _parse(html)
    for tag, attr, url in parsed.urls:
        assert url.startswith(("data:", "#")), (tag, attr, url[:60])
    assert "script" not in parsed.tags and "link" not in parsed.tags and "iframe" not in parsed.tags
    assert "http:" not in html and "https:" not in html and "//" not in re.sub(r"data:[^\"]+", "", html).replace(
        "<!--", ""
    ).split("<body>")[0].split("<style>")[0]
    assert "@import" not in html
    for url in re.findall(r"url\(([^)]*)\)", html):
        assert url.strip("'\"").startswith("data:"), url


def test_autoescape_of_analysis_text(figures):
    a = full_analysis()
    a.skipped.append('<script>alert("x")</script>')
    html = render_html(a, figures)
    assert "<script>" not in html
    assert "&lt;script&gt;" in html
    # the glioma warning in the fixture contains <extrapolated>
    assert "&lt;extrapolated&gt;" in html


def test_deterministic_bytes(figures, tmp_path):
    a = render_report(full_analysis(), figures, out_dir=tmp_path / "a").read_bytes()
    b = render_report(full_analysis(), figures, out_dir=tmp_path / "b").read_bytes()
    assert a == b


def test_unknown_figure_is_shown_not_dropped(figures):
    extra = dict(figures)
    extra["perfusion_map"] = figures["dvh"]
    html = render_html(full_analysis(), extra, captions={"perfusion_map": "rCBV map"})
    assert 'id="other-figures"' in html and "rCBV map" in html


def test_per_lesion_keys_for_two_lesions(figures):
    a = full_analysis()
    second = a.lesions[0].model_copy(update={"name": "L2 cerebellum", "evidence": None, "options": []})
    a = a.model_copy(update={"lesions": [a.lesions[0], second]})
    figs = {figure_key("growth", lesion="L2 cerebellum"): figures["growth"]}
    html = render_html(a, figs)
    ids = _parse(html).ids
    assert "images-l1-left-frontal" in ids and "images-l2-cerebellum" in ids
    # the L2 key is used for L2 only
    assert html.count('data-figure="growth:L2 cerebellum"') == 1
    assert html.count("data:image/png") == 1


def test_bad_inputs(figures, tmp_path):
    with pytest.raises(ValueError, match="not PNG"):
        render_html(full_analysis(), {"dvh": b"GIF89a..."})
    blocker = tmp_path / "file"
    blocker.write_text("x")
    with pytest.raises(InputError, match="is a file"):
        render_report(full_analysis(), figures, out_dir=blocker)
    with pytest.raises(ValueError, match="unknown figure kind"):
        figure_key("nonsense")


def test_print_css_present(figures):
    html = render_html(full_analysis(), figures)
    assert "@media print" in html and "page-break-before" in html and "size: A4" in html


def test_real_evidence_engine_block_renders():
    """The evidence block and options exactly as radnec.evidence produces them (contract check)."""
    evidence_options = pytest.importorskip("radnec.evidence.options")
    from radnec.evidence.case import parse_case

    case = parse_case({
        "schema_version": 1, "primary_histology": "nsclc", "srs": {"days_since": 487, "fractions": 1},
        "symptoms": "moderate", "steroids": {"response": "improved", "worsened_on_taper": True},
        "lesion": {"diameter_now_mm": 35, "pattern": "in-field"}, "tests_done": [],
    })
    out = evidence_options.assessment(case, draws=1000, seed=0)
    a = full_analysis()
    lesion = a.lesions[0].model_copy(update={"evidence": out["evidence"], "options": out["options"]})
    a = a.model_copy(update={"lesions": [lesion]})
    ev = out["evidence"]
    png = F.evidence_contributions(ev["items"], prior_tp=ev["prior_tp"], posterior_tp=ev["posterior_tp"],
                                   interval95=ev["interval95"])
    voi = F.value_of_information(ev["value_of_information"], current_tp=ev["posterior_tp"])
    html = render_html(a, {"evidence": png, "voi": voi})
    text = re.sub(r"\s+", " ", re.sub(r"<[^>]+>", " ", html))
    assert f"{ev['posterior_tp'] * 100:.0f} %" in text
    assert ev["band"] in text
    assert ev["value_of_information"][0]["label"] in text
    assert out["options"][0]["label"] in text and out["options"][0]["fit"] in text
    assert "needle biopsy" in text  # the biopsy meaning block
    assert "Recorded but not used as evidence" in text or all(it["result"] for it in ev["items"])
    # the waterfall assumes the contributions add up from the prior to the posterior: check it
    import math

    logit = lambda p: math.log(p / (1 - p))  # noqa: E731
    total = logit(ev["prior_tp"]) + sum(it["contribution"] for it in ev["items"] if it["used"])
    assert abs(total - logit(ev["posterior_tp"])) < 0.01


def test_lists_of_records_render_as_tables(figures):
    html = render_html(full_analysis(), figures)
    block = html[html.index('<table class="records"><caption>intervals</caption>'):]
    block = block[: block.index("</table>")]
    assert "<th>volume doubling time days</th>" in block and "98.04" in block and "108.3" in block
    assert "intervals[0]" not in html


def test_tags_balanced(figures):
    """Every non-void element is closed in order (template regressions show up here first)."""
    void = {"meta", "img", "br", "hr", "input", "link"}

    class Balance(HTMLParser):
        def __init__(self) -> None:
            super().__init__()
            self.stack: list[str] = []
            self.errors: list[tuple[str, tuple[int, int]]] = []

        def handle_starttag(self, tag, attrs):  # noqa: ANN001
            if tag not in void:
                self.stack.append(tag)

        def handle_endtag(self, tag):  # noqa: ANN001
            if self.stack and self.stack[-1] == tag:
                self.stack.pop()
            else:
                self.errors.append((tag, self.getpos()))

    for analysis in (full_analysis(), minimal_analysis()):
        b = Balance()
        b.feed(render_html(analysis, figures))
        assert b.errors == [] and b.stack == [], (b.errors[:3], b.stack[:3])


def test_nested_quality_blocks_are_collapsed(figures):
    html = render_html(full_analysis(), figures)
    sub = html[html.index('<details class="sub"><summary>thresholds</summary>'):]
    sub = sub[: sub.index("</details>")]
    assert "min jacobian" in sub and "0.5" in sub
    assert "jacobian min" in html  # the top-level metric stays visible, underscores shown as spaces


def test_missing_notes_quote_only_matching_reasons():
    a = minimal_analysis()
    a.skipped.append("no FLAIR at planning: edema not measured")
    html = render_html(a, {})
    dose_section = html[html.index('id="dvh"'):html.index('id="growth"')]
    assert "no RTDOSE found" in dose_section
    assert "FLAIR at planning" not in dose_section  # 'planning' is not the word 'plan'
