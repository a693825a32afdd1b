"""Series selection by content and headers: each header variant is used correctly or skipped with a reason."""

from __future__ import annotations

from pathlib import Path

import pytest
from protocol_factory import mr_series
from pydicom.uid import generate_uid

from radnec.discover import _study_series, classify_series
from radnec.ingest.protocol import choose, classify, geometry_text, plane, vocabulary
from radnec.ingest.scan import scan

SAG = ((0.0, 1.0, 0.0), (0.0, 0.0, -1.0))


@pytest.mark.parametrize(
    ("description", "role"),
    [
        # Siemens
        ("t1_mprage_sag_p2_iso_KM", "T1c"),
        ("t1_se_tra_KM", "T1c"),
        ("t1_fl2d_tra +C", "T1c"),
        ("t1_se_tra", None),
        ("t2_tse_tra", "T2"),
        ("t2_tirm_tra_dark-fluid", "FLAIR"),
        # GE
        ("AX T1 POST GAD", "T1c"),
        ("Sag 3D BRAVO +C", "T1c"),
        ("AX T2 FLAIR", "FLAIR"),
        ("AX T1 FLAIR POST", "T1c"),
        ("AX T1 PRE GD", None),
        # Philips
        ("T1W_SE_TRA +C", "T1c"),
        ("3D_T1W_TFE_GD", "T1c"),
        ("sT1W_3D_TFE +C", "T1c"),
        ("T2W_TSE", "T2"),
        # languages
        ("T1 SE tra mit KM", "T1c"),
        ("T1 tra nativ", None),
        ("T1 3D gado", "T1c"),
        ("T1 SE injecté", "T1c"),
        ("T1 sans injection", None),
        ("T1 SE contraste", "T1c"),
        ("T1 TSE met contrast", "T1c"),
        ("T1 zonder contrast", None),
        # short forms
        ("T1c", "T1c"),
        ("T1 CE", "T1c"),
        ("T1 C+", "T1c"),
        ("MPRAGE+C", "T1c"),
        ("t2f", "FLAIR"),
        # never used
        ("ep2d_diff_3scan_trace", None),
        ("AX DWI", None),
        ("ADC", None),
        ("SWI_mIP", None),
        ("AAHead_Scout", None),
        ("3-plane localizer", None),
        ("T1 +C SUB", None),
    ],
)
def test_description_vocabulary(description, role):
    assert classify_series(description) == role


def test_vocabulary_file_says_it_is_a_convention():
    from radnec.datafiles import data_path

    raw = data_path("radnec.ingest", "series_vocabulary.yaml").read_text(encoding="utf-8")
    assert "CONVENTION, not clinical evidence" in raw
    assert vocabulary().isotropic_max_spacing_mm == 1.5


def _study(tmp_path: Path) -> tuple[str, str]:
    return generate_uid(), generate_uid()


def _choices(folder: Path) -> tuple[dict, dict]:
    inv = scan(folder)
    (study,) = [st for p in inv.patients for st in p.studies]
    picked = _study_series(study)
    by_desc = {c.description: c for c in picked.choices}
    return {k: v.description for k, v in picked.series.items()}, by_desc


def test_routine_followup_protocol_is_sorted_out(tmp_path):
    """A GE-like routine follow-up: 3-D sag T1c, 2-D axial T1c, pre-contrast T1, FLAIR, T2, DWI, ADC, SWI,
    localiser, subtraction and an MPR of the 3-D T1c. The 3-D T1c is used, every other series says why."""
    st, fo = _study(tmp_path)
    kw = {"study_uid": st, "for_uid": fo}
    src = generate_uid()
    mr_series(tmp_path / "loc", description="3-Plane Loc", image_type=("ORIGINAL", "PRIMARY", "LOCALIZER"),
              acquisition_type="2D", series_number=1, n=3, slice_spacing=10, **kw)
    mr_series(tmp_path / "t1pre", description="AX T1 SE", acquisition_type="2D", tr=500, te=10,
              pixel_spacing=(0.9, 0.9), slice_spacing=6, thickness=5, series_number=2, acquisition_time="100500", **kw)
    mr_series(tmp_path / "flair", description="AX T2 FLAIR", acquisition_type="2D", tr=9000, te=120, ti=2500,
              slice_spacing=5, series_number=3, **kw)
    mr_series(tmp_path / "t2", description="AX T2 FSE", acquisition_type="2D", tr=4000, te=100,
              slice_spacing=5, series_number=4, **kw)
    mr_series(tmp_path / "dwi", description="AX DIFFUSION", image_type=("ORIGINAL", "PRIMARY", "DIFFUSION", "TRACEW"),
              b_value=1000, acquisition_type="2D", slice_spacing=5, series_number=5, **kw)
    mr_series(tmp_path / "adc", description="Apparent Diffusion Coefficient (mm2/s)",
              image_type=("DERIVED", "PRIMARY", "ADC"), acquisition_type="2D", slice_spacing=5, series_number=6, **kw)
    mr_series(tmp_path / "swi", description="AX SWAN", image_type=("ORIGINAL", "PRIMARY", "SWI"), series_number=7, **kw)
    mr_series(tmp_path / "ax", description="AX T1 POST GAD", acquisition_type="2D", tr=500, te=10,
              pixel_spacing=(0.9, 0.9), slice_spacing=6, thickness=5, contrast_agent="Gadobutrol",
              series_number=8, acquisition_time="102000", **kw)
    mr_series(tmp_path / "sag", description="Sag 3D BRAVO +C", row=SAG[0], col=SAG[1], contrast_agent="Gadobutrol",
              series_number=9, acquisition_time="102500", series_uid=src, n=6, **kw)
    mr_series(tmp_path / "mpr", description="Sag 3D BRAVO +C MPR AX", image_type=("DERIVED", "SECONDARY", "MPR"),
              contrast_agent="Gadobutrol", series_number=10, source_series_uid=src, n=6, **kw)
    mr_series(tmp_path / "sub", description="T1 +C SUB", image_type=("DERIVED", "SECONDARY", "SUBTRACTION"),
              contrast_agent="Gadobutrol", series_number=11, **kw)
    used, c = _choices(tmp_path)
    assert used == {"T1c": "Sag 3D BRAVO +C", "FLAIR": "AX T2 FLAIR", "T2": "AX T2 FSE"}
    assert c["Sag 3D BRAVO +C"].used and "3-D, 1.0 mm iso, sagittal" in c["Sag 3D BRAVO +C"].reason
    assert "post-contrast by ContrastBolusAgent 'Gadobutrol'" in c["Sag 3D BRAVO +C"].reason
    assert "preferred over 'AX T1 POST GAD' (2-D" in c["Sag 3D BRAVO +C"].reason
    assert not c["AX T1 POST GAD"].used and "3-D isotropic" in c["AX T1 POST GAD"].reason
    assert "gap 1.0 mm" in c["AX T1 POST GAD"].reason
    assert c["Sag 3D BRAVO +C MPR AX"].role == "T1c" and not c["Sag 3D BRAVO +C MPR AX"].used
    assert "reformat/derived copy of the series used" in c["Sag 3D BRAVO +C MPR AX"].reason
    assert c["AX T1 SE"].role == "T1" and "pre-contrast" in c["AX T1 SE"].reason
    assert c["3-Plane Loc"].role == "localizer" and c["3-Plane Loc"].reason.startswith("ignored: localiser")
    assert c["AX DIFFUSION"].role == "diffusion" and "DIFFUSION" in c["AX DIFFUSION"].reason
    assert c["Apparent Diffusion Coefficient (mm2/s)"].role == "diffusion"
    assert c["AX SWAN"].role == "susceptibility"
    assert c["T1 +C SUB"].role == "subtraction"
    assert all(ch.reason for ch in c.values())


def test_contrast_tag_decides_when_the_description_is_silent(tmp_path):
    """Siemens 't1_se_tra' twice: only the one carrying ContrastBolusAgent is the T1c."""
    st, fo = _study(tmp_path)
    mr_series(tmp_path / "a", description="t1_se_tra", acquisition_type="2D", tr=550, te=9, slice_spacing=5,
              series_number=3, acquisition_time="100000", study_uid=st, for_uid=fo)
    mr_series(tmp_path / "b", description="t1_se_tra", acquisition_type="2D", tr=550, te=9, slice_spacing=5,
              series_number=9, acquisition_time="102000", contrast_agent="Dotarem", study_uid=st, for_uid=fo)
    inv = scan(tmp_path)
    chosen, choices = choose(inv.series_of_kind("MR"))
    assert chosen["T1c"].series_number == 9
    roles = sorted((c.role, c.used) for c in choices)
    assert roles == [("T1", False), ("T1c", True)]


def test_explicit_pre_contrast_description_wins_over_an_exam_level_tag(tmp_path):
    st, fo = _study(tmp_path)
    mr_series(tmp_path / "a", description="T1 tra nativ", contrast_agent="Gadovist", study_uid=st, for_uid=fo)
    (info,) = scan(tmp_path).series_of_kind("MR")
    assert classify(info).role == "T1"


def test_agent_tag_saying_none_is_not_contrast(tmp_path):
    st, fo = _study(tmp_path)
    mr_series(tmp_path / "a", description="t1_mprage_sag", contrast_agent="NONE", study_uid=st, for_uid=fo)
    (info,) = scan(tmp_path).series_of_kind("MR")
    assert classify(info).role == "T1"


@pytest.mark.parametrize(
    ("tr", "te", "ti", "role"),
    [(9000, 120, 2500, "FLAIR"), (4000, 100, None, "T2"), (500, 10, None, "T1"), (2000, 3, 900, "T1"), (8, 3, None, "T1")],
)
def test_sequence_from_timing_when_the_description_names_nothing(tmp_path, tr, te, ti, role):
    st, fo = _study(tmp_path)
    mr_series(tmp_path / "a", description="Series 7", tr=tr, te=te, ti=ti, study_uid=st, for_uid=fo)
    (info,) = scan(tmp_path).series_of_kind("MR")
    assert classify(info).role == role


def test_no_description_uses_timing_and_contrast_tag(tmp_path):
    st, fo = _study(tmp_path)
    mr_series(tmp_path / "a", description=None, tr=2000, te=3, ti=900, contrast_agent="Gadobutrol", study_uid=st, for_uid=fo)
    (info,) = scan(tmp_path).series_of_kind("MR")
    cls = classify(info)
    assert cls.role == "T1c" and "TI 900 ms" not in cls.evidence and "ContrastBolusAgent" in cls.evidence


def test_thinner_then_later_wins_between_two_2d_t1c(tmp_path):
    st, fo = _study(tmp_path)
    kw = {"study_uid": st, "for_uid": fo, "acquisition_type": "2D", "contrast_agent": "Gd"}
    mr_series(tmp_path / "a", description="T1 SE tra +C", slice_spacing=6, thickness=5, series_number=1, **kw)
    mr_series(tmp_path / "b", description="T1 SE cor +C", slice_spacing=3, series_number=2,
              row=(1, 0, 0), col=(0, 0, -1), **kw)
    mr_series(tmp_path / "c", description="T1 SE tra +C late", slice_spacing=3, series_number=3,
              acquisition_time="110000", **kw)
    chosen, choices = choose(scan(tmp_path).series_of_kind("MR"))
    assert chosen["T1c"].description == "T1 SE tra +C late"
    reasons = {c.description: c.reason for c in choices}
    assert "thinner slices" in reasons["T1 SE tra +C"]
    assert "acquired later" in reasons["T1 SE cor +C"]


def test_flair_prefers_the_frame_of_the_chosen_t1c(tmp_path):
    st, fo, other = generate_uid(), generate_uid(), generate_uid()
    mr_series(tmp_path / "t1c", description="T1 MPRAGE +C", study_uid=st, for_uid=fo, contrast_agent="Gd")
    mr_series(tmp_path / "f3d", description="3D FLAIR", study_uid=st, for_uid=other, series_number=2)
    mr_series(tmp_path / "f2d", description="AX FLAIR", study_uid=st, for_uid=fo, acquisition_type="2D",
              slice_spacing=5, series_number=3)
    chosen, choices = choose(scan(tmp_path).series_of_kind("MR"))
    assert chosen["FLAIR"].description == "AX FLAIR"
    assert "another frame of reference" in {c.description: c.reason for c in choices}["3D FLAIR"]


def test_plane_and_geometry_text(tmp_path):
    import numpy as np
    from ingest_factory import rotation

    st, fo = _study(tmp_path)
    r = rotation((1, 0, 0), 15)
    mr_series(tmp_path / "obl", description="T1 +C obl", row=r[:, 0], col=r[:, 1], acquisition_type="2D",
              pixel_spacing=(0.9, 0.9), slice_spacing=6, thickness=5, study_uid=st, for_uid=fo)
    (info,) = scan(tmp_path).series_of_kind("MR")
    assert plane(info) == "oblique (15° from axial)"
    assert geometry_text(info) == "2-D, 0.9×0.9×6.0 mm (thickness 5.0 mm, gap 1.0 mm), oblique (15° from axial)"
    assert np.isclose(info.mr.extent_mm, 4 * 6.0)


def test_real_vendor_headers_without_descriptions(data_dir):
    """Siemens classic and Philips enhanced multi-frame (ingest-demo, no SeriesDescription): the Philips
    T1 is read from its functional groups (timing, spacing, orientation) and is pre-contrast (no agent);
    the Siemens 3-D IR series is a FLAIR by its TR/TE/TI."""
    inv = scan(data_dir / "ingest-demo")
    by_type = {len(s.files): s for s in inv.series_of_kind("MR")}
    philips, siemens = by_type[1], by_type[4]
    assert philips.mr.repetition_time_ms == pytest.approx(6.77, abs=0.01)
    assert philips.mr.n_positions == 8
    assert classify(philips).role == "T1"
    assert geometry_text(philips) == "3-D, 1.2 mm iso, sagittal"
    cls = classify(siemens)
    assert cls.role == "FLAIR" and "TI 2200 ms" in cls.evidence
