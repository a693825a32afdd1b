"""Helpers shared by the evidence tests: build observations that trigger a given item result."""

from __future__ import annotations

from radnec.evidence.model import Item
from radnec.evidence.observations import Observation

SRC = "test"


def triggering_observations(item: Item, result: str) -> list[Observation]:
    """Observations that make ``item`` return ``result`` ('+' or '−'), read from the item itself."""
    obs = [Observation(name=k, value=v[0], source=SRC) for k, v in item.when.items()]
    if item.threshold is not None:
        t = item.threshold
        op = item.positive_if
        step = max(abs(t) * 0.05, 0.01)
        if result == "+":
            value = t if op in (">=", "<=") else (t + step if op == ">" else t - step)
        else:
            value = t - step if op in (">=", ">") else t + step
        obs.append(Observation(name=item.observation, value=float(value), source=SRC))
    else:
        values = item.positive_values if result == "+" else item.negative_values
        obs.append(Observation(name=item.observation, value=values[0], source=SRC))
    return obs
