"""Property tests (hypothesis) of leave-one-out, mixed lesions and the out-of-field ordering (issue 18)."""

from __future__ import annotations

from evidence_helpers import triggering_observations
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from radnec.evidence.bayes import assess
from radnec.evidence.model import load_knowledge
from radnec.evidence.observations import Observation

KB = load_knowledge()
GEOMETRY = {"pattern", "growth_symmetry"}
WHEN_NAMES = {k for item in KB.items for k in item.when}
ATOMS = []
for _item in KB.items:
    for _res in ("+", "−"):
        if _res == "−" and _item.threshold is None and not _item.negative_values:
            continue
        _obs = triggering_observations(_item, _res)
        ATOMS.append((_item, _res, _obs, {o.name for o in _obs}))
NON_GEOMETRY = [a for a in ATOMS if not (a[3] & GEOMETRY)]
SETTINGS = settings(max_examples=50, deadline=None, derandomize=True, suppress_health_check=[HealthCheck.too_slow])


@st.composite
def atom_sets(draw, pool=ATOMS):
    idx = draw(st.lists(st.integers(0, len(pool) - 1), min_size=1, max_size=6, unique=True))
    names, chosen = set(), []
    for i in idx:
        atom = pool[i]
        if not (atom[3] & names):
            chosen.append(atom)
            names |= atom[3]
    return [o for a in chosen for o in a[2]]


@SETTINGS
@given(atom_sets(), st.floats(0.05, 0.95))
def test_leave_one_out_brackets_the_posterior_consistently(obs, prior):
    ev = assess(None, obs, prior_tp=prior, draws=1000)
    rows = {r.id: r for r in ev.items}
    p = ev.posterior_tp
    for loo in ev.leave_one_out:
        c = rows[loo.item].contribution
        if c > 0:  # removing an item that favours progression never raises the posterior
            assert loo.posterior_without <= p + 1e-12 and loo.odds_factor >= 1 - 1e-9
        else:  # ... and removing one that favours necrosis never lowers it
            assert loo.posterior_without >= p - 1e-12 and loo.odds_factor <= 1 + 1e-9
        feeding = [r for r in ev.items if r.used and r.observation == rows[loo.item].observation and abs(r.contribution) > 1e-12]
        name = rows[loo.item].observation
        if len(feeding) == 1 and name not in WHEN_NAMES | GEOMETRY:
            # the same as assessing without that observation (family weights recomputed)
            again = assess(None, [o for o in obs if o.name != name], prior_tp=prior, draws=1000)
            assert abs(again.posterior_tp - loo.posterior_without) < 1e-9
    ups = [lo.posterior_without for lo in ev.leave_one_out if rows[lo.item].contribution > 0]
    downs = [lo.posterior_without for lo in ev.leave_one_out if rows[lo.item].contribution < 0]
    if ups:
        assert min(ups) <= p + 1e-12
    if downs:
        assert max(downs) >= p - 1e-12
    # mixed lesions: any viable tumour is never less likely than progression
    assert ev.mixed.p_any_viable_tumour >= p - 1e-12
    lo, hi = ev.interval95
    clo, chi = ev.interval95_cutoff
    assert clo <= lo and chi >= hi


@SETTINGS
@given(atom_sets(NON_GEOMETRY))
def test_out_of_field_never_lower_than_the_same_lesion_in_field(obs):
    def p(*extra):
        return assess(None, obs + [Observation(name=n, value=v, source="t") for n, v in extra], draws=1000).posterior_tp

    # with the dose the dose side gives: high in the field, low (a bound from the grid edge) out of it
    in_field = p(("pattern", "in-field"), ("lesion_dmax_gy", 30.0))
    out_low = p(("pattern", "out-of-field"), ("lesion_dmax_bound_gy", 3.0))
    assert out_low >= in_field - 1e-12
    # and without any dose (e.g. a pattern typed into the case file)
    assert p(("pattern", "out-of-field")) >= p(("pattern", "in-field")) - 1e-12
    # geometry read as eccentric in the field is not applicable out of it, and still never lower
    assert p(("pattern", "out-of-field"), ("growth_symmetry", "not applicable")) >= p(
        ("pattern", "in-field"), ("growth_symmetry", "eccentric")
    ) - 1e-12


def test_no_evidence_gives_nath_for_any_viable_tumour():
    ev = assess(None, [])
    assert ev.posterior_tp == ev.prior_tp
    assert abs(ev.mixed.p_any_viable_tumour - 23 / 36) < 1e-12
    assert abs(ev.mixed.p_pure_treatment_effect - 13 / 36) < 1e-12
    assert "Nath" in ev.mixed.explanation and ev.mixed.citation


def test_a_large_meta_analysis_result_is_not_fragile_but_a_small_post_hoc_one_is():
    meta = assess(None, [Observation(name="dsc_reading", value="tumour-like", source="t")])
    assert not any(lo.fragile for lo in meta.leave_one_out)
    psr = assess(None, [Observation(name="dsc_psr_pct", value=50.0, source="t")])
    (loo,) = psr.leave_one_out
    assert loo.fragile and loo.small_or_post_hoc and loo.odds_factor > 3
    assert any(w.startswith("FRAGILE") and "34 lesions" in w for w in psr.warnings)
    lo, hi = psr.interval95
    clo, chi = psr.interval95_cutoff
    assert clo < lo, "the post-hoc PSR cut-off widens the interval towards the prior"
