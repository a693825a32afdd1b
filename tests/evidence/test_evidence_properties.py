"""Property tests (hypothesis) of the engine: direction, interval, correlated families."""

from __future__ import annotations

import math

from evidence_helpers import triggering_observations
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from radnec.evidence.bayes import assess, point_lr
from radnec.evidence.model import load_knowledge

KB = load_knowledge()
CAP_LO, CAP_HI = KB.convention("lr_cap_min"), KB.convention("lr_cap_max")
# atoms: (item, result, observations, observation names touched)
ATOMS = []
for _item in KB.items:
    for _res in ("+", "−"):
        if _res == "−" and _item.threshold is None and not _item.negative_values:
            continue
        _obs = triggering_observations(_item, _res)
        ATOMS.append((_item, _res, _obs, {o.name for o in _obs}))

SETTINGS = settings(max_examples=60, deadline=None, derandomize=True, suppress_health_check=[HealthCheck.too_slow])


def _lr(item, res):
    return min(max(point_lr(item, res), CAP_LO), CAP_HI)


def _logit(p):
    return math.log(p / (1 - p))


@st.composite
def base_and_extra(draw, *, same_family=False):
    idx = draw(st.lists(st.integers(0, len(ATOMS) - 1), max_size=5, unique=True))
    names, chosen = set(), []
    for i in idx:
        atom = ATOMS[i]
        if not (atom[3] & names):
            chosen.append(atom)
            names |= atom[3]
    # the extra result must not change the lesion's situation: 'pattern' re-weighs other items
    # (extrapolation), so its ordering is tested in test_evidence_fragility.py
    pool = [a for a in ATOMS if not (a[3] & names) and "pattern" not in a[3]]
    if same_family:
        families = {a[0].family for a in chosen}
        pool = [a for a in pool if a[0].family in families]
    if not pool:
        chosen = chosen[:1]
        names = set().union(*(a[3] for a in chosen)) if chosen else set()
        pool = [a for a in ATOMS if not (a[3] & names) and "pattern" not in a[3]]
        if same_family and chosen:
            pool = [a for a in pool if a[0].family == chosen[0][0].family]
    extra = draw(st.sampled_from(pool)) if pool else None
    prior = draw(st.floats(0.05, 0.95))
    return chosen, extra, prior


def _obs(atoms):
    return [o for a in atoms for o in a[2]]


@SETTINGS
@given(base_and_extra())
def test_a_result_favouring_progression_never_lowers_the_probability(data):
    base, extra, prior = data
    if extra is None:
        return
    before = assess(None, _obs(base), prior_tp=prior, draws=1000)
    after = assess(None, _obs(base) + extra[2], prior_tp=prior, draws=1000)
    new = _new_log_lrs(before, after)
    if all(x >= 0 for x in new):
        assert after.posterior_tp >= before.posterior_tp - 1e-12
    if all(x <= 0 for x in new):
        assert after.posterior_tp <= before.posterior_tp + 1e-12


def _new_log_lrs(before, after):
    """Point log-LRs of the items the extra observations switched on (one observation can feed
    several items, e.g. ici_exposure)."""
    old = {r.id for r in before.items if r.used}
    return [r.log_lr for r in after.items if r.used and r.id not in old]


@SETTINGS
@given(base_and_extra(), st.integers(0, 2**31 - 1))
def test_the_monte_carlo_interval_contains_the_point_estimate(data, seed):
    base, extra, _ = data
    atoms = base + ([extra] if extra else [])
    res = assess(None, _obs(atoms), draws=4000, seed=seed)
    lo, hi = res.interval95_mc
    assert lo <= res.posterior_tp <= hi
    assert 0 < lo <= hi < 1


@SETTINGS
@given(base_and_extra(same_family=True))
def test_a_second_test_of_the_same_family_moves_less_than_if_independent(data):
    base, extra, prior = data
    if extra is None or not base:
        return
    before = assess(None, _obs(base), prior_tp=prior, draws=1000)
    after = assess(None, _obs(base) + extra[2], prior_tp=prior, draws=1000)
    new = _new_log_lrs(before, after)
    independent_shift = sum(new)
    shift = _logit(after.posterior_tp) - _logit(before.posterior_tp)
    if all(x >= 0 for x in new) or all(x <= 0 for x in new):
        assert abs(shift) <= abs(independent_shift) + 1e-9
        assert shift * independent_shift >= -1e-12  # never the wrong way
    same_direction_present = any(
        r.family == extra[0].family and abs(r.log_lr) > 1e-6 and r.log_lr * independent_shift > 0
        for r in before.items
        if r.used
    )
    if same_direction_present and abs(independent_shift) > 1e-9 and (all(x >= 0 for x in new) or all(x <= 0 for x in new)):
        assert abs(shift) < abs(independent_shift) - 1e-12
