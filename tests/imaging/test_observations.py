"""Imaging observations fit the evidence engine's Observation model and its known names/units."""

from __future__ import annotations

import numpy as np
import pytest
import SimpleITK as sitk

from radnec.imaging.knowledge import load_thresholds, observation, to_evidence
from radnec.imaging.mrs import typed_mrs
from radnec.imaging.perfusion import analyze_dsc
from radnec.imaging.pet import pet_lesion_stats
from radnec.phantom.dsc import simulate_dsc

evidence = pytest.importorskip("radnec.evidence.observations")


def _grid():
    shape = (4, 32, 32)
    z, y, x = np.mgrid[: shape[0], : shape[1], : shape[2]]
    brain = ((x - 15.5) / 13) ** 2 + ((y - 15.5) / 14) ** 2 < 1
    lesion = ((x - 9) ** 2 + (y - 15) ** 2 < 6) & (z >= 1) & (z <= 2)
    grid = sitk.GetImageFromArray(np.where(brain, 1.0, 0.0).astype(np.float32))
    grid.SetSpacing((4.0, 4.0, 5.0))

    def mk(a):
        m = sitk.GetImageFromArray(a.astype(np.uint8))
        m.CopyInformation(grid)
        return m

    return grid, mk(brain), mk(lesion)


def _check(observations):
    converted = to_evidence(observations)
    for o in converted:
        assert o.name in evidence.KNOWN_NAMES, o.name
        kind, unit = evidence.KNOWN_NAMES[o.name]
        if kind == "number":
            assert isinstance(o.value, float)
            assert o.unit == unit, (o.name, o.unit, unit)
    return converted


def test_all_producers_emit_known_observations():
    grid, brain, lesion = _grid()
    dsc = analyze_dsc(simulate_dsc(grid, brain=brain, lesion=lesion, lesion_rcbv=2.0, n_frames=40), lesion=lesion)
    _check(dsc.observations)
    pet = pet_lesion_stats(sitk.Cast(grid, sitk.sitkFloat32) + 0.5, lesion, tracer="FET")
    _check(pet["observations"])
    _check(typed_mrs(cho_cr=1.2, cho_naa=2.0, lipid_lactate_cr=0.3))


def test_threshold_file_is_complete_and_cited():
    entries = load_thresholds()
    for name, e in entries.items():
        assert e["citation"], name
    assert entries["dsc_rcbv_mean"]["threshold"] == 1.54
    assert entries["dsc_psr_pct"]["threshold"] == 76.3
    glioma = observation("mrs_cho_naa", 3.0, "1", source="test")
    assert "GLIOMA" in glioma["note"] and glioma["tumour_like"] is None
