"""The knowledge-override hook: local likelihood ratios replace the cited ones only when asked, and say so."""

from __future__ import annotations

import pytest
import yaml

from radnec.errors import EvidenceError
from radnec.evidence.bayes import assess
from radnec.evidence.model import load_knowledge
from radnec.evidence.observations import Observation
from radnec.evidence.override import knowledge_override


def _override(path, items=None, prior=None):
    doc = {
        "schema_version": 1,
        "provenance": {"cohort": "hand", "n_lesions": 10, "date": "2026-12-05", "method": "2x2 counts", "radnec_version": "0.1.0"},
        "items": items if items is not None else {
            "timing_narloch": {"counts": {"tp": 6, "fn": 0, "tn": 4, "fp": 0}, "haldane": True,
                               "lr_positive": {"point": 9.2857, "ci95": [1.2, 70.0]},
                               "lr_negative": {"point": 0.0794, "ci95": [0.005, 1.2]}},
        },
    }
    if prior is not None:
        doc["prior"] = prior
    path.write_text(yaml.safe_dump(doc))
    return path


def _timing(result):
    return next(i for i in result.items if i.id == "timing_narloch")


def test_local_lr_used_only_inside_the_override_and_said_so(tmp_path):
    obs = [Observation(name="days_since_srs", value=120, unit="d", source="test")]
    cited = assess(observations=obs, draws=2000)
    assert _timing(cited).lr == pytest.approx((10 / 11) / (9 / 24), rel=1e-4)
    with knowledge_override(_override(tmp_path / "o.yaml")):
        local = assess(observations=obs, draws=2000)
    row = _timing(local)
    assert row.lr == pytest.approx(9.2857)
    assert row.citation[0].startswith("local calibration, n=10 lesions (cohort 'hand'")
    assert any("Narloch" in c for c in row.citation[1:])  # the cited source stays, after the local one
    assert any(w.startswith("LOCAL CALIBRATION") and "replaces the cited LR+ 2.42" in w for w in row.warnings)
    assert any(w.startswith("timing_narloch: LOCAL CALIBRATION") for w in local.warnings)
    assert local.posterior_tp > cited.posterior_tp
    # after the block (and without the option) nothing changed
    again = assess(observations=obs, draws=2000)
    assert again.model_dump() == cited.model_dump()
    assert load_knowledge().item("timing_narloch").local_calibration is None


def test_local_prior_and_bad_files(tmp_path):
    with knowledge_override(_override(tmp_path / "p.yaml", items={}, prior={"point": 0.7, "range": [0.5, 0.85]})) as kb:
        assert kb.prior.point == 0.7 and kb.prior.sources[0] == "local_calibration"
        assert assess(draws=2000).prior_tp == 0.7
    assert assess(draws=2000).prior_tp == 0.4
    with pytest.raises(EvidenceError, match="unknown item"):
        with knowledge_override(_override(tmp_path / "u.yaml", items={"no_such_item": {
                "counts": {"tp": 1, "fn": 1, "tn": 1, "fp": 1},
                "lr_positive": {"point": 1.0, "ci95": [0.1, 10.0]}, "lr_negative": {"point": 1.0, "ci95": [0.1, 10.0]}}})):
            pass
    (tmp_path / "bad.yaml").write_text("provenance: {cohort: x}\n")
    with pytest.raises(EvidenceError, match="bad.yaml: invalid knowledge-override file"):
        with knowledge_override(tmp_path / "bad.yaml"):
            pass
