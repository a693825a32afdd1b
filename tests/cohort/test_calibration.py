"""Calibration statistics on small hand-made tables with known answers."""

from __future__ import annotations

import math

import numpy as np
import pytest
import yaml

from radnec.cohort.calibration import (
    auc, auc_ci, brier, calibrate, calibration_curve, calibration_intercept_slope, decision_curve, item_lr, write_override,
)
from radnec.errors import InputError


def test_perfectly_separating_cue_gives_auc_one_with_a_degenerate_ci():
    p = [0.9, 0.8, 0.85, 0.7, 0.2, 0.1, 0.3]
    y = [1, 1, 1, 1, 0, 0, 0]
    assert auc(p, y) == 1.0
    res = auc_ci(p, y, seed=3)
    assert res["point"] == 1.0 and res["ci95"] == [1.0, 1.0]


def test_auc_known_value_with_ties_and_reversed():
    # pairs (pos, neg): 0.6>0.5, 0.6=0.6 (1/2), 0.6<0.7, 0.8>all three -> (1 + 0.5 + 0 + 3) / 6
    p, y = [0.6, 0.8, 0.5, 0.6, 0.7], [1, 1, 0, 0, 0]
    assert auc(p, y) == pytest.approx(4.5 / 6)
    assert auc([1 - v for v in p], y) == pytest.approx(1.5 / 6)
    assert auc([0.5, 0.6], [1, 1]) is None
    lo, hi = auc_ci(p, y, seed=0)["ci95"]
    assert 0.0 <= lo <= 4.5 / 6 <= hi <= 1.0


def test_brier_of_a_known_table():
    # (0.9-1)^2 + (0.2-0)^2 + (0.6-1)^2 + (0.5-0)^2 = 0.01 + 0.04 + 0.16 + 0.25 = 0.46, / 4
    assert brier([0.9, 0.2, 0.6, 0.5], [1, 0, 1, 0]) == pytest.approx(0.115)


def test_likelihood_ratios_match_the_counts_by_hand():
    res = item_lr(tp=8, fn=2, tn=6, fp=4)  # sens 0.8, spec 0.6
    assert not res["haldane"]
    assert res["lr_positive"]["point"] == pytest.approx(0.8 / 0.4)
    assert res["lr_negative"]["point"] == pytest.approx(0.2 / 0.6, abs=1e-4)
    se = math.sqrt(1 / 8 - 1 / 10 + 1 / 4 - 1 / 10)
    assert res["lr_positive"]["ci95"] == pytest.approx([2.0 * math.exp(-1.96 * se), 2.0 * math.exp(1.96 * se)], rel=1e-3)


def test_haldane_only_when_a_cell_is_zero():
    res = item_lr(tp=6, fn=0, tn=4, fp=0)  # a perfectly separating cue
    assert res["haldane"] and "Haldane" in res["note"]
    # 6.5/7 over 0.5/5 = 9.2857; 0.5/7 over 4.5/5 = 0.0794
    assert res["lr_positive"]["point"] == pytest.approx((6.5 / 7) / (0.5 / 5), abs=1e-4)
    assert res["lr_negative"]["point"] == pytest.approx((0.5 / 7) / (4.5 / 5), abs=1e-4)
    assert item_lr(tp=3, fn=0, tn=0, fp=0)["lr_positive"] is None


def test_perfect_calibration_gives_intercept_zero_slope_one():
    rng = np.random.default_rng(42)
    p = rng.uniform(0.02, 0.98, 20000)
    y = (rng.uniform(size=p.size) < p).astype(int)
    fit = calibration_intercept_slope(p, y)
    assert fit["converged"]
    assert abs(fit["intercept"]) < 0.05 and abs(fit["slope"] - 1.0) < 0.05
    # over-confident predictions (logit doubled) give a slope of about 1/2
    z = np.log(p / (1 - p)) * 2.0
    over = calibration_intercept_slope(1 / (1 + np.exp(-z)), y)
    assert abs(over["slope"] - 0.5) < 0.05
    curve = calibration_curve(p, y)
    assert len(curve) == 10 and all(abs(b["observed"] - b["mean_predicted"]) < 0.05 for b in curve)


def test_decision_curve_by_hand():
    p, y = [0.9, 0.7, 0.4, 0.2], [1, 0, 1, 0]
    dc = decision_curve(p, y, thresholds=[0.5])
    # at t = 0.5: treat 0.9 and 0.7 -> TP 1, FP 1: 1/4 - 1/4 * 1 = 0; treat all: 0.5 - 0.5 = 0
    assert dc["model"] == [0.0] and dc["treat_all"] == [0.0] and dc["treat_none"] == [0.0]
    dc = decision_curve(p, y, thresholds=[0.8])
    assert dc["model"] == [0.25] and dc["treat_all"] == pytest.approx([0.5 - 0.5 * 4])


def _rows():
    rows = []
    for i in range(6):
        rows.append({"case": f"p{i}", "lesion": "GTV", "status": "done", "posterior_tp": 0.6 + 0.05 * i, "pattern": "in-field",
                     "result:timing_narloch": "+", "lr:timing_narloch": 2.4})
    for i in range(4):
        rows.append({"case": f"n{i}", "lesion": "GTV", "status": "done", "posterior_tp": 0.1 + 0.05 * i, "pattern": "marginal",
                     "result:timing_narloch": "−", "lr:timing_narloch": 0.3})
    rows.append({"case": "bad", "status": "failed", "error": "x"})
    return rows


def test_calibrate_and_override_from_an_outcomes_file(tmp_path):
    outcomes = tmp_path / "outcomes.csv"
    lines = [f"p{i},GTV,{'mixed' if i == 0 else 'progression'},histology" for i in range(6)]
    lines += [f"n{i},GTV,necrosis,follow-up" for i in range(4)] + ["ghost,GTV,necrosis,follow-up"]
    outcomes.write_text("case,lesion,outcome,reference\n" + "\n".join(lines) + "\n")
    cal = calibrate(_rows(), outcomes)
    assert cal["n"] == 10 and cal["n_progression"] == 6 and cal["outcome_counts"]["mixed"] == 1
    assert "mixed" in cal["mixed_note"] and cal["unmatched"] == ["ghost/GTV"]
    assert cal["auc"]["point"] == 1.0 and cal["references"] == {"histology": 6, "follow-up": 4}
    (item,) = cal["items"]
    assert item["id"] == "timing_narloch" and item["counts"] == {"tp": 6, "fn": 0, "tn": 4, "fp": 0} and item["haldane"]
    assert item["cited_lr_positive"] == pytest.approx((10 / 11) / (9 / 24), abs=1e-3)  # Narloch counts 10/1/15/9
    assert cal["pattern_outcome"]["in-field"]["progression"] == 5 and cal["pattern_outcome"]["marginal"]["necrosis"] == 4
    assert cal["local_prior"]["point"] == 0.6
    path = write_override(cal, tmp_path / "knowledge-override.yaml", cohort="hand", refit_prior=True)
    doc = yaml.safe_load(path.read_text())
    assert doc["provenance"]["cohort"] == "hand" and doc["provenance"]["n_lesions"] == 10
    assert doc["items"]["timing_narloch"]["lr_positive"]["point"] == item["lr_positive"]["point"]
    assert doc["prior"]["point"] == 0.6


def test_outcomes_file_is_validated(tmp_path):
    bad = tmp_path / "o.csv"
    bad.write_text("case,lesion,outcome,reference\na,GTV,recurrence,histology\n")
    with pytest.raises(InputError, match="outcome 'recurrence'"):
        calibrate([], bad)
    bad.write_text("case,lesion\n")
    with pytest.raises(InputError, match="lacks the column"):
        calibrate([], bad)
