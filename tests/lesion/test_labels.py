"""Segmentation input: label conventions → compartments, on real fixtures and synthetic maps."""

from __future__ import annotations

import numpy as np
import pytest
import SimpleITK as sitk

from radnec.errors import GeometryError, InputError
from radnec.geometry import mask_volume_cc
from radnec.lesion.conventions import available_conventions, parse_convention
from radnec.lesion.labels import compartments_from_label_map, read_label_map, split_lesion_by_enhancement


def test_tcga_three_label_volumes_reproduce_provenance(data_dir):
    seg = read_label_map(data_dir / "lesion-tcga-fg-6692" / "seg.nii.gz")
    c = compartments_from_label_map(seg, "brats-2021")
    # PROVENANCE: necrotic 2,477 vox (2.5 cc), edema 20,862 (20.9 cc), enhancing 6,840 (6.8 cc) at 1 mm³
    assert mask_volume_cc(c.necrotic) == pytest.approx(2.477, rel=0.01)
    assert mask_volume_cc(c.edema) == pytest.approx(20.862, rel=0.01)
    assert mask_volume_cc(c.enhancing) == pytest.approx(6.840, rel=0.01)
    assert mask_volume_cc(c.lesion) == pytest.approx(2.477 + 6.840, rel=0.01)


def test_brats_met_aurora_volumes_reproduce_provenance(data_dir):
    d = data_dir / "lesion-brats-met-00110"
    t1c = sitk.ReadImage(str(d / "t1c.nii.gz"))
    c = compartments_from_label_map(read_label_map(d / "seg.nii.gz"), "aurora", reference=t1c)
    assert mask_volume_cc(c.edema) == pytest.approx(47.078, rel=0.01)
    assert mask_volume_cc(c.lesion) == pytest.approx(51.796, rel=0.01)
    assert c.enhancing is None and c.necrotic is None
    split = split_lesion_by_enhancement(c, t1c)
    enh, nec = mask_volume_cc(split.enhancing), mask_volume_cc(split.necrotic)
    assert enh + nec == pytest.approx(51.796, rel=1e-6)
    assert nec > enh  # a large cystic metastasis: the core dominates


def test_wrong_convention_is_refused(data_dir):
    seg = read_label_map(data_dir / "lesion-brats-met-00110" / "seg.nii.gz")
    with pytest.raises(InputError, match="wrong convention"):
        compartments_from_label_map(seg, "brats-2021")
    with pytest.raises(InputError, match="does not declare"):
        compartments_from_label_map(seg, "enhancing=2")


def test_custom_and_named_conventions():
    assert set(available_conventions()) >= {"brats-2021", "brats-mets", "aurora", "binary"}
    c = parse_convention("enhancing=3, necrotic=1, edema=2")
    assert c.enhancing == (3,) and c.necrotic == (1,) and c.edema == (2,)
    assert parse_convention("lesion=1+3,edema=2").lesion == (1, 3)
    for bad in ("nonsense", "enhancing=a", "tumour=1", "enhancing=1,edema=1", "edema=2"):
        with pytest.raises(InputError):
            parse_convention(bad)


def _label_image(spacing=(1.0, 1.0, 1.0), origin=(0.0, 0.0, 0.0)) -> sitk.Image:
    arr = np.zeros((10, 12, 14), np.uint8)
    arr[3:7, 4:8, 5:9] = 2
    arr[4:6, 5:7, 6:8] = 3
    arr[2, 2, 2] = 1
    img = sitk.GetImageFromArray(arr)
    img.SetSpacing(spacing)
    img.SetOrigin(origin)
    return img


def test_brats_mets_convention_and_grid_check():
    lab = _label_image()
    c = compartments_from_label_map(lab, "brats-mets")
    assert mask_volume_cc(c.enhancing) == pytest.approx(8 / 1000)
    assert mask_volume_cc(c.edema) == pytest.approx((64 - 8) / 1000)
    other = _label_image(origin=(0.5, 0.0, 0.0))
    with pytest.raises(GeometryError, match="different grid"):
        compartments_from_label_map(lab, "brats-mets", reference=other)
    res = compartments_from_label_map(lab, "brats-mets", reference=other, resample_to_reference=True)
    assert res.lesion.GetOrigin() == other.GetOrigin()
    far = _label_image(origin=(500.0, 0.0, 0.0))
    with pytest.raises(GeometryError, match="does not overlap"):
        compartments_from_label_map(lab, "brats-mets", reference=far, resample_to_reference=True)


def test_read_label_map_rejects_non_integer(tmp_path):
    img = sitk.GetImageFromArray(np.full((4, 4, 4), 0.5, np.float32))
    p = tmp_path / "frac.nii.gz"
    sitk.WriteImage(img, str(p))
    with pytest.raises(InputError, match="non-integer"):
        read_label_map(p)
    with pytest.raises(InputError):
        read_label_map(tmp_path / "missing.nii.gz")


def test_rtstruct_rois_to_compartments(data_dir):
    from radnec.errors import MissingReferenceError
    from radnec.lesion.labels import compartments_from_rtstruct
    from radnec.lesion.morphology import measure_timepoint

    rs = data_dir / "rt-brain-srs" / "RS.dcm"
    if not rs.is_file():
        pytest.skip("the dose colleague's RTSTRUCT fixture is not present")
    ref = sitk.Image([60, 60, 30], sitk.sitkUInt8)
    ref.SetSpacing((0.5, 0.5, 1.0))
    ref.SetOrigin((-22.0, 119.0, -30.0))
    c = compartments_from_rtstruct(rs, ref, rois={"lesion": "gtv_4"})
    m = measure_timepoint(c)
    # GTV_4 spans x -15.5..1.5 (17 mm) and y 125.7..142.5 (16.8 mm) in LPS; axial LD is a diagonal or a side
    assert 16.0 <= m.longest_diameter_mm <= 24.0
    assert m.lesion_cc > 0.5 and m.necrotic_cc is None
    with pytest.raises(MissingReferenceError, match="no ROI named"):
        compartments_from_rtstruct(rs, ref, rois={"lesion": "GTV_99"})


def test_dicom_seg_segments_to_compartments(data_dir, tmp_path):
    from radnec.cli import main
    from radnec.errors import MissingReferenceError
    from radnec.ingest.seg import read_seg
    from radnec.lesion.labels import compartments_from_seg

    path = data_dir / "ingest-demo" / "seg" / "liver_1frame.dcm"
    if not path.is_file():
        pytest.skip("the ingest colleague's SEG fixture is not present")
    ref = read_seg(path)[0].mask
    c = compartments_from_seg(path, ref, segments={"lesion": "liver"})
    assert mask_volume_cc(c.lesion) == pytest.approx(36233 * 0.810547**2 / 1000, rel=1e-5)
    c2 = compartments_from_seg(path, ref, segments={"enhancing": "1"})
    assert mask_volume_cc(c2.enhancing) == pytest.approx(mask_volume_cc(c.lesion))
    with pytest.raises(MissingReferenceError, match="no segment"):
        compartments_from_seg(path, ref, segments={"lesion": "Tumour"})
    # the CLI takes a DICOM SEG with compartment=segment pairs
    img = sitk.Cast(ref, sitk.sitkFloat32) * 500.0 + 300.0
    p = tmp_path / "img.nii.gz"
    sitk.WriteImage(img, str(p))
    assert main(["measure", "--image", str(p), "--seg", str(path), "--labels", "lesion=Liver", "--json"]) == 0
    bare = tmp_path / "bare.nii.gz"  # no tissue around the lesion: the split is skipped with a note
    sitk.WriteImage(sitk.Cast(ref, sitk.sitkFloat32), str(bare))
    assert main(["measure", "--image", str(bare), "--seg", str(path), "--labels", "lesion=Liver", "--json"]) == 0
    assert main(["measure", "--image", str(p), "--seg", str(path), "--labels", "brats-mets"]) == 2
