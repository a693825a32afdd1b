"""Knowledge-base overrides from a local calibration (``radnec cohort --outcomes`` writes them).

An override file replaces, for the items it lists, the cited likelihood ratios by the ones re-estimated
on a local cohort (2×2 counts, LR+ and LR− with 95 % CIs), and optionally the prior. It is never applied
silently: only inside :func:`knowledge_override` (``radnec analyze --knowledge-override FILE``,
``radnec cohort --knowledge-override FILE``) does :func:`radnec.evidence.model.load_knowledge` return
the overridden knowledge base. Each overridden item then cites ``local calibration, n=…`` first and the
original sources after it, carries a ``LOCAL CALIBRATION`` warning with the cited LRs it replaces, and
the evidence block's warnings repeat it, so ``analysis.json`` and the report say so visibly.

File format (YAML)::

    schema_version: 1
    provenance: {cohort: NAME, n_lesions: N, date: YYYY-MM-DD, method: TEXT, radnec_version: X, ...}
    items:
      timing_narloch:
        counts: {tp: 12, fn: 3, tn: 20, fp: 5}
        lr_positive: {point: 3.2, ci95: [1.5, 6.8]}
        lr_negative: {point: 0.25, ci95: [0.09, 0.7]}
    prior: {point: 0.45, range: [0.3, 0.6]}     # optional
"""

from __future__ import annotations

import contextlib
import datetime as dt
from collections.abc import Iterator
from contextlib import contextmanager
from contextvars import ContextVar
from pathlib import Path
from typing import Any

from pydantic import BaseModel, ConfigDict, Field, ValidationError

from radnec.errors import EvidenceError
from radnec.evidence.model import (
    ACTIVE_KNOWLEDGE, Accuracy, Counts, Item, KnowledgeBase, LRSpec, Prior, Source, load_knowledge,
)

LOCAL_SOURCE = "local_calibration"

#: The override file in force (inside :func:`knowledge_override`), so a later re-run of the same
#: analysis (:func:`radnec.pipeline.update_clinical`, :func:`radnec.pipeline.reanalyze_lesion`) applies it again.
ACTIVE_OVERRIDE: ContextVar[Path | None] = ContextVar("radnec_active_override", default=None)


class _Loose(BaseModel):
    model_config = ConfigDict(extra="allow", frozen=True)


class Provenance(_Loose):
    """Where the local values come from."""

    cohort: str
    n_lesions: int = Field(gt=0)
    date: dt.date
    method: str
    radnec_version: str


class LocalItem(_Loose):
    """One item re-estimated on the cohort."""

    counts: Counts
    lr_positive: LRSpec
    lr_negative: LRSpec
    haldane: bool = False


class LocalPrior(_Loose):
    point: float = Field(gt=0.0, lt=1.0)
    range: tuple[float, float]


class Override(_Loose):
    """A knowledge-override file."""

    schema_version: int = 1
    provenance: Provenance
    items: dict[str, LocalItem] = Field(default_factory=dict)
    prior: LocalPrior | None = None


def read_override(path: str | Path) -> Override:
    """Read and validate a knowledge-override file.

    Raises
    ------
    EvidenceError
        The file is missing, not YAML or fails the schema (the message names the file and field).
    """
    import yaml

    src = Path(path)
    try:
        data = yaml.safe_load(src.read_text(encoding="utf-8"))
    except OSError as exc:
        raise EvidenceError(f"cannot read the knowledge-override file: {exc.strerror}", path=src) from exc
    except yaml.YAMLError as exc:
        raise EvidenceError(f"not valid YAML: {exc}".replace("\n", " "), path=src) from exc
    try:
        return Override.model_validate(data)
    except ValidationError as exc:
        where = "; ".join(f"{'.'.join(map(str, e['loc']))}: {e['msg']}" for e in exc.errors())
        raise EvidenceError(f"invalid knowledge-override file: {where}", path=src) from exc


def _fmt(spec: LRSpec) -> str:
    ci = f" ({spec.ci95[0]:.3g}-{spec.ci95[1]:.3g})" if spec.ci95 else ""
    return f"{spec.point:.3g}{ci}"


def _local_item(item: Item, local: LocalItem, label: str) -> Item:
    from radnec.evidence.engine import point_lr

    cited = f"cited LR+ {point_lr(item, '+'):.3g} / LR- {point_lr(item, '−'):.3g} ({', '.join(item.sources)})"
    text = (f"{label}: LR+ {_fmt(local.lr_positive)} / LR- {_fmt(local.lr_negative)} from "
            f"TP {local.counts.tp}, FN {local.counts.fn}, TN {local.counts.tn}, FP {local.counts.fp}"
            + (" (Haldane +0.5: a cell was 0)" if local.haldane else "") + f" replaces the {cited}")
    update: dict[str, Any] = {
        "sources": [LOCAL_SOURCE, *item.sources],
        "grade": "measured",
        "unverified": False,
        "local_calibration": text,
        "situation": item.situation.model_copy(update={
            "n_lesions": local.counts.tp + local.counts.fn + local.counts.tn + local.counts.fp,
            "cutoff": "prespecified" if item.threshold is not None else "categorical",
        }),
    }
    if item.accuracy is not None:
        update["accuracy"] = Accuracy(counts=local.counts, reported_lr_positive=local.lr_positive,
                                      reported_lr_negative=local.lr_negative)
    else:
        update.update(lr_positive=local.lr_positive, lr_negative=local.lr_negative)
    return Item.model_validate({**item.model_dump(exclude_unset=False), **{k: v for k, v in update.items()}})


def apply_override(kb: KnowledgeBase, override: Override, *, path: str | Path | None = None) -> KnowledgeBase:
    """``kb`` with the override's items (and prior) replaced by their local values.

    Raises
    ------
    EvidenceError
        The override names an item the knowledge base does not have.
    """
    prov = override.provenance
    label = f"local calibration, n={prov.n_lesions} lesions (cohort '{prov.cohort}', {prov.date}, radnec {prov.radnec_version})"
    unknown = sorted(set(override.items) - {i.id for i in kb.items})
    if unknown:
        raise EvidenceError(f"knowledge override names unknown item(s) {', '.join(unknown)}", path=path)
    sources = dict(kb.sources)
    sources[LOCAL_SOURCE] = Source(citation=f"{label}; {prov.method}", year=prov.date.year, population="mets", verified=True,
                                   note="a local re-estimate, not published evidence")
    items = [_local_item(i, override.items[i.id], label) if i.id in override.items else i for i in kb.items]
    prior = kb.prior
    if override.prior is not None:
        prior = Prior(point=override.prior.point, range=override.prior.range, population="mets", grade="measured",
                      definition=kb.prior.definition, sources=[LOCAL_SOURCE, *kb.prior.sources],
                      note=f"LOCAL CALIBRATION: {label} replaces the cited prior {kb.prior.point:g} "
                           f"({kb.prior.range[0]:g}-{kb.prior.range[1]:g})")
    try:
        return KnowledgeBase(sources=sources, prior=prior, conventions=kb.conventions, observations=kb.observations,
                             items=items, procedures=kb.procedures, options=kb.options, texts=kb.texts)
    except ValidationError as exc:
        raise EvidenceError(f"knowledge override does not fit the knowledge base: {exc}", path=path) from exc


@contextmanager
def knowledge_override(path: str | Path) -> Iterator[KnowledgeBase]:
    """Within the block, the default knowledge base is the packaged one with ``path``'s local values."""
    kb = apply_override(load_knowledge(), read_override(path), path=path)
    token = ACTIVE_KNOWLEDGE.set(kb)
    path_token = ACTIVE_OVERRIDE.set(Path(path).resolve())
    try:
        yield kb
    finally:
        ACTIVE_OVERRIDE.reset(path_token)
        ACTIVE_KNOWLEDGE.reset(token)


def remembered_override(path: str | None) -> contextlib.AbstractContextManager[Any]:
    """The override an earlier run used (its path as saved), unless one is already in force; else nothing."""
    if path is None or ACTIVE_OVERRIDE.get() is not None:
        return contextlib.nullcontext()
    return knowledge_override(path)


__all__ = ["Override", "read_override", "apply_override", "knowledge_override", "remembered_override", "ACTIVE_OVERRIDE",
           "LOCAL_SOURCE"]
