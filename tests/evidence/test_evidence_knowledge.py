"""The knowledge base loads, is internally consistent and its checks can fail."""

from __future__ import annotations

import shutil
from pathlib import Path

import numpy as np
import pytest
import yaml

from radnec.errors import EvidenceError
from radnec.evidence.model import KNOWLEDGE_DIR, load_knowledge
from radnec.evidence.observations import KNOWN_NAMES


def test_knowledge_loads_and_every_item_has_a_citation():
    kb = load_knowledge()
    assert len(kb.items) >= 20
    for item in kb.items:
        cites = kb.cite(item.sources)
        assert cites and all(len(c) > 20 for c in cites), item.id
        assert item.population in ("mets", "glioma", "mixed", "other")


def test_known_names_mirror_observations_yaml():
    kb = load_knowledge()
    assert set(KNOWN_NAMES) == set(kb.observations)
    for name, (kind, unit) in KNOWN_NAMES.items():
        assert kb.observations[name].kind == kind, name
        assert kb.observations[name].unit == unit, name


def test_prior_draws_have_the_point_as_median_and_the_range_as_95_percent():
    kb = load_knowledge()
    draws = kb.prior.sample(np.random.default_rng(0), 200_000)
    lo, med, hi = np.quantile(draws, [0.025, 0.5, 0.975])
    assert abs(med - kb.prior.point) < 0.003
    assert abs(lo - kb.prior.range[0]) < 0.003 and abs(hi - kb.prior.range[1]) < 0.003


def test_expert_opinion_items_are_weak_and_labelled():
    kb = load_knowledge()
    lo, hi = kb.convention_pair("expert_lr_bounds")
    experts = [i for i in kb.items if i.grade == "expert-opinion"]
    assert experts
    for item in experts:
        for spec in (item.lr_positive, item.lr_negative):
            if spec is not None:
                assert lo <= min(spec.bounds()) and max(spec.bounds()) <= hi, item.id


def test_glioma_items_are_flagged_extrapolated():
    kb = load_knowledge()
    for item in kb.items:
        if item.population == "glioma":
            assert item.extrapolated, item.id


def test_unverified_sources_propagate_to_items():
    kb = load_knowledge()
    for item in kb.items:
        if all(not kb.sources[s].verified for s in item.sources):
            assert item.unverified, f"{item.id} cites only UNVERIFIED sources but is not flagged"


def _copy_kb(tmp_path: Path) -> Path:
    dst = tmp_path / "kb"
    shutil.copytree(KNOWLEDGE_DIR, dst)
    return dst


def test_expert_item_with_strong_lr_is_rejected(tmp_path):
    kb_dir = _copy_kb(tmp_path)
    data = yaml.safe_load((kb_dir / "items.yaml").read_text())
    for item in data["items"]:
        if item["id"] == "growth_symmetry_expert":
            item["lr_positive"] = {"point": 3.0}
    (kb_dir / "items.yaml").write_text(yaml.safe_dump(data))
    with pytest.raises(EvidenceError, match="growth_symmetry_expert.*weak bounds"):
        load_knowledge(kb_dir)


def test_unknown_source_is_rejected(tmp_path):
    kb_dir = _copy_kb(tmp_path)
    data = yaml.safe_load((kb_dir / "items.yaml").read_text())
    data["items"][0]["sources"] = ["nobody2099"]
    (kb_dir / "items.yaml").write_text(yaml.safe_dump(data))
    with pytest.raises(EvidenceError, match="unknown source 'nobody2099'"):
        load_knowledge(kb_dir)


def test_bad_counts_and_yaml_are_rejected(tmp_path):
    kb_dir = _copy_kb(tmp_path)
    data = yaml.safe_load((kb_dir / "items.yaml").read_text())
    data["items"][0]["accuracy"]["counts"]["tp"] = -1
    (kb_dir / "items.yaml").write_text(yaml.safe_dump(data))
    with pytest.raises(EvidenceError, match=r"items\.0\.accuracy\.counts\.tp"):
        load_knowledge(kb_dir)
    (kb_dir / "items.yaml").write_text("items: [unclosed")
    with pytest.raises(EvidenceError, match="not valid YAML"):
        load_knowledge(kb_dir)


def test_docs_list_every_observation_name():
    docs = (Path(__file__).resolve().parents[2] / "docs" / "evidence.md").read_text(encoding="utf-8")
    missing = [n for n in load_knowledge().observations if f"`{n}`" not in docs]
    assert not missing, f"docs/evidence.md lacks {missing}"


def test_missing_convention_is_a_clear_error(tmp_path):
    kb_dir = _copy_kb(tmp_path)
    data = yaml.safe_load((kb_dir / "conventions.yaml").read_text())
    del data["conventions"]["family_shrinkage"]
    (kb_dir / "conventions.yaml").write_text(yaml.safe_dump(data))
    with pytest.raises(EvidenceError, match="lacks family_shrinkage"):
        load_knowledge(kb_dir)
