"""DSC perfusion: OSIPI curves, synthetic 4-D volumes (OSIPI-painted and analytic), I/O, CLI errors."""

from __future__ import annotations

import itertools
import json

import numpy as np
import pytest
import SimpleITK as sitk
from scipy.integrate import trapezoid

from radnec.cli import main
from radnec.errors import GeometryError, InputError
from radnec.imaging.contralateral import mirror_mask
from radnec.ingest.dsc import read_dsc
from radnec.imaging.perfusion import (
    analyze_dsc,
    cbv_cbf_deconvolution,
    cbv_cbf_parametric,
    convolve_residue,
    detect_baseline,
    gamma_residue,
)
from radnec.phantom.dsc import (
    dsc_from_curves,
    read_osipi_curves,
    simulate_dsc,
    write_dsc_dicom,
    write_dsc_nifti,
)


@pytest.fixture(scope="module")
def osipi(data_dir):
    return read_osipi_curves(data_dir / "imaging-osipi-dsc" / "dsc_data.csv")


def _grid(shape=(4, 40, 40), spacing=(4.0, 4.0, 5.0)):
    z, y, x = np.mgrid[: shape[0], : shape[1], : shape[2]]
    brain = ((x - 19.5) / 17) ** 2 + ((y - 19.5) / 18) ** 2 < 1
    lesion = ((x - 11) ** 2 + (y - 19) ** 2 < 10) & (z >= 1) & (z <= 2)
    artery = (x - 19.5) ** 2 + (y - 31) ** 2 < 3
    grid = sitk.GetImageFromArray(np.zeros(shape, np.float32))
    grid.SetSpacing(spacing)
    grid.SetOrigin((-80.0, -80.0, 0.0))

    def mk(a):
        m = sitk.GetImageFromArray(a.astype(np.uint8))
        m.CopyInformation(grid)
        return m

    return grid, mk(brain), mk(lesion), mk(artery)


def test_osipi_cbv_by_deconvolution(osipi):
    assert all(np.array_equal(c.aif, osipi[0].aif) for c in osipi)  # one AIF: deconvolve all at once
    cbvs, cbfs = cbv_cbf_deconvolution(np.column_stack([c.tissue for c in osipi]), osipi[0].aif, osipi[0].dt_s)
    est = []
    for c, cbv, cbf in zip(osipi, cbvs, cbfs, strict=True):
        est.append(cbv * 100)
        assert cbv * 100 == pytest.approx(c.cbv_ml_per_100ml, rel=0.05), c.label
        # OSIPI tolerance for CBF: absolute 15 ml/100 ml/min + 10 %.
        assert abs(cbf * 6000 - c.cbf_ml_per_100ml_min) <= 15 + 0.1 * c.cbf_ml_per_100ml_min
    truth = [c.cbv_ml_per_100ml for c in osipi]
    errs = [abs(est[a] / est[b] / (truth[a] / truth[b]) - 1) for a, b in itertools.combinations(range(len(est)), 2)]
    assert np.mean(np.array(errs) <= 0.05) >= 0.9
    assert max(errs) < 0.08


def test_osipi_integration_bias_is_the_rectangle_rule(osipi):
    # The DRO sums its convolution with a rectangle rule: the integral ratio is CBV + CBF*dt/2.
    for c in osipi:
        ratio = trapezoid(c.tissue) / trapezoid(c.aif) * 100
        corrected = ratio - c.cbf_ml_per_100ml_min / 60 * c.dt_s / 2
        assert corrected == pytest.approx(c.cbv_ml_per_100ml, rel=0.07), c.label


def _dro_aif(n=161, dt_s=1.243):
    """The OSIPI DRO's arterial input (gamma variate, arrival 20 s, r 3, b 1.5 s), noise-free."""
    t = np.arange(n) * dt_s
    return t, np.where(t > 20, np.clip(t - 20, 0, None) ** 3 * np.exp(-(t - 20) / 1.5), 0.0)


@pytest.mark.parametrize("shape", [1.0, 3.0])
def test_parametric_fit_recovers_noise_free_dro(shape):
    # Noise-free curves built the DRO's way (left-rectangle convolution) with gamma transit times of
    # shape 1 (the OSIPI curves) and 3: the model fit returns CBV = CBF*MTT, while the area ratio
    # carries the discretisation excess CBF*dt/2.
    t, aif = _dro_aif()
    dt = t[1]
    for cbv, cbf in [(0.04, 70 / 6000), (0.04, 10 / 6000), (0.02, 5 / 6000), (0.02, 35 / 6000)]:
        tissue = cbf * convolve_residue(aif, gamma_residue(t, mtt_s=cbv / cbf, shape=shape), dt)
        fit = cbv_cbf_parametric(tissue, aif, dt)
        assert fit["cbv"] == pytest.approx(cbv, rel=5e-3)
        assert fit["cbf_per_s"] == pytest.approx(cbf, rel=2e-2)
        assert fit["shape"] == pytest.approx(shape, rel=0.05)
        assert tissue.sum() / aif.sum() - cbv == pytest.approx(cbf * dt / 2, rel=0.1)


def test_osipi_cbv_by_gamma_model(osipi):
    fits = [cbv_cbf_parametric(c.tissue, c.aif, c.dt_s) for c in osipi]
    est = np.array([f["cbv"] * 100 for f in fits])
    se = np.array([f["cbv_rel_se"] for f in fits])
    truth = np.array([c.cbv_ml_per_100ml for c in osipi])
    assert np.all(np.abs(est / truth - 1) <= 0.04)
    for c, f in zip(osipi, fits, strict=True):  # OSIPI CBF tolerance: 15 ml/100 ml/min + 10 %
        assert abs(f["cbf_per_s"] * 6000 - c.cbf_ml_per_100ml_min) <= 0.1 * c.cbf_ml_per_100ml_min + 2
    pairs = list(itertools.combinations(range(len(est)), 2))
    errs = np.array([abs(est[a] / est[b] / (truth[a] / truth[b]) - 1) for a, b in pairs])
    pse = np.array([np.hypot(se[a], se[b]) for a, b in pairs])
    assert np.mean(errs <= 0.05) >= 0.95
    assert not np.any((errs > 0.05) & (errs > 2 * pse))  # every miss is within the curves' noise
    # the lowest-signal curve (CBV 2, CBF 5: MTT 24 s) is the least certain
    assert se[int(np.argmin(truth * [c.cbf_ml_per_100ml_min for c in osipi]))] == se.max()
    # the area ratio (integration) misses the stated truth by the DRO's CBF*dt/2 rectangle-rule excess
    area = np.array([c.tissue.sum() / c.aif.sum() * 100 for c in osipi])
    area_errs = np.array([abs(area[a] / area[b] / (truth[a] / truth[b]) - 1) for a, b in pairs])
    assert area_errs.max() > 0.15


def test_parametric_fit_input_errors():
    _, aif = _dro_aif(40)
    with pytest.raises(InputError, match="same length"):
        cbv_cbf_parametric(aif[:30], aif, 1.2)
    with pytest.raises(InputError, match="NaN/inf"):
        cbv_cbf_parametric(np.full(40, np.nan), aif, 1.2)
    with pytest.raises(InputError, match="positive area"):
        cbv_cbf_parametric(aif, np.zeros(40), 1.2)
    with pytest.raises(InputError, match="frame interval"):
        cbv_cbf_parametric(aif * 0.01, aif, 0.0)


def test_rcbv_is_normalised_to_the_mirrored_contralateral_region(osipi):
    # Two hemispheres with different CBV (same MTT 6 s): the lesion (patient's right, LPS x < 0) must be
    # normalised to the contralateral (left) tissue that mirrors it, not to the whole brain.
    by = {"_".join(c.label.split("_")[2:4]): c for c in osipi}
    grid, brain, lesion, _ = _grid()
    br = sitk.GetArrayFromImage(brain) > 0
    x_mm = np.array([grid.TransformIndexToPhysicalPoint((i, 0, 0))[0] for i in range(br.shape[2])])
    centre = float(np.mean(x_mm[np.nonzero(br)[2]]))
    left = br & (x_mm[None, None, :] > centre)

    def mk(a):
        m = sitk.GetImageFromArray(a.astype(np.uint8))
        m.CopyInformation(grid)
        return m

    hi, lo = by["CBV4_CBF40"], by["CBV2_CBF20"]
    series = dsc_from_curves(
        grid, [(mk(br & ~left), hi.tissue), (mk(left), lo.tissue), (lesion, hi.tissue)], dt_s=hi.dt_s, noise_sd=2.0, seed=1
    )
    res = analyze_dsc(series, lesion=lesion, brain=brain, leakage_correction=False)
    assert res.lesion["rcbv_mean"] == pytest.approx(2.0, rel=0.05)  # vs the contralateral CBV 2 (ipsilateral gives 1)
    assert res.reference_how.startswith("lesion mirrored")
    ref = sitk.GetArrayFromImage(res.reference_mask) > 0
    mirrored = sitk.GetArrayFromImage(mirror_mask(lesion, plane_x_mm=centre)) > 0
    assert ref.any() and np.array_equal(ref, mirrored & br & ~(sitk.GetArrayFromImage(lesion) > 0))
    assert np.all(left[ref])  # the whole reference region is in the other hemisphere
    # equal shapes: the relative peak height equals the CBV ratio
    assert res.lesion["relative_peak_height"] == pytest.approx(2.0, rel=0.1)


@pytest.mark.parametrize(("wm_key", "lesion_key"), [("CBV2_CBF20", "CBV4_CBF40"), ("CBV4_CBF20", "CBV2_CBF10")])
def test_osipi_painted_volume_rcbv(osipi, wm_key, lesion_key):
    by = {"_".join(c.label.split("_")[2:4]): c for c in osipi}
    wm, les_c = by[wm_key], by[lesion_key]
    truth = les_c.cbv_ml_per_100ml / wm.cbv_ml_per_100ml
    grid, brain, lesion, artery = _grid()
    series = dsc_from_curves(
        grid, [(brain, wm.tissue), (lesion, les_c.tissue), (artery, wm.aif * 0.05)], dt_s=wm.dt_s, noise_sd=5.0, seed=3
    )
    res = analyze_dsc(series, lesion=lesion)
    assert res.lesion["rcbv_mean"] == pytest.approx(truth, rel=0.05)
    rmap = sitk.GetArrayFromImage(res.rcbv)[sitk.GetArrayFromImage(lesion) > 0]
    assert np.median(np.abs(rmap / truth - 1)) < 0.05
    dec = analyze_dsc(series, lesion=lesion, aif=artery, method="deconvolution")
    assert dec.lesion["rcbv_mean"] == pytest.approx(truth, rel=0.06)
    assert dec.lesion["rcbv_model"] == pytest.approx(truth, rel=0.05)
    assert dec.cbf is not None


def test_leakage_correction_and_psr():
    grid, brain, lesion, _ = _grid()
    t2 = simulate_dsc(grid, brain=brain, lesion=lesion, lesion_rcbv=2.5, lesion_leakage_k2_per_s=-0.02, snr=200)
    t1 = simulate_dsc(grid, brain=brain, lesion=lesion, lesion_rcbv=2.5, lesion_leakage_k2_per_s=0.02, snr=200)
    for series in (t1, t2):
        corrected = analyze_dsc(series, lesion=lesion)
        raw = analyze_dsc(series, lesion=lesion, leakage_correction=False)
        assert corrected.lesion["rcbv_mean"] == pytest.approx(2.5, rel=0.05)
        assert abs(raw.lesion["rcbv_mean"] / 2.5 - 1) > 0.2  # the correction matters
    # T2*-dominant leakage lowers the signal recovery (tumour-like PSR), T1-dominant raises it.
    psr_t2 = analyze_dsc(t2, lesion=lesion).lesion["psr_pct"]
    psr_t1 = analyze_dsc(t1, lesion=lesion).lesion["psr_pct"]
    assert psr_t2 < 90 < 100 < psr_t1
    obs = {o["name"]: o for o in analyze_dsc(t2, lesion=lesion).observations}
    assert obs["dsc_rcbv_mean"]["threshold"]["threshold"] == 1.54
    assert obs["dsc_rcbv_mean"]["tumour_like"] is True
    assert obs["dsc_psr_pct"]["threshold"]["threshold"] == 76.3
    assert obs["dsc_rcbv_mean"]["unit"] == "ratio to contralateral white matter"


def test_necrosis_like_lesion_and_user_wm_mask():
    grid, brain, lesion, _ = _grid()
    series = simulate_dsc(grid, brain=brain, lesion=lesion, lesion_rcbv=0.7, snr=200, seed=5)
    arr = sitk.GetArrayFromImage(brain).copy()
    arr[:, :, :20] = 0  # right hemisphere only (LPS: x increasing to the patient's left)
    wm = sitk.GetImageFromArray(arr)
    wm.CopyInformation(grid)
    res = analyze_dsc(series, lesion=lesion, white_matter=wm)
    assert res.lesion["rcbv_mean"] == pytest.approx(0.7, rel=0.05)
    assert res.reference_how == "user white-matter mask"
    obs = {o["name"]: o for o in res.observations}
    assert obs["dsc_rcbv_mean"]["tumour_like"] is False


def test_baseline_detection_skips_non_steady_state():
    t = np.arange(50)
    curve = np.full(50, 1000.0)
    curve[:2] = [1400.0, 1150.0]  # T1 saturation not yet reached
    curve[12:20] = [950, 800, 600, 500, 600, 750, 850, 920]
    curve[20:] = 980.0
    curve += np.sin(t) * 2
    assert detect_baseline(curve) == (2, 12)
    with pytest.raises(InputError, match="no bolus"):
        detect_baseline(np.full(50, 1000.0) + np.sin(t))


def test_nifti_and_dicom_roundtrip_and_cli(tmp_path, capsys):
    grid, brain, lesion, _ = _grid(shape=(3, 32, 32))
    lesion_arr = sitk.GetArrayFromImage(lesion)
    lesion_arr[:] = 0
    lesion_arr[1, 14:19, 6:11] = 1
    lesion = sitk.GetImageFromArray(lesion_arr)
    lesion.CopyInformation(grid)
    series = simulate_dsc(grid, brain=brain, lesion=lesion, lesion_rcbv=3.0, n_frames=40, snr=300)
    nii = write_dsc_nifti(series, tmp_path / "dsc.nii.gz")
    back = read_dsc(nii)
    assert back.te_s == pytest.approx(series.te_s)
    assert back.dt_s == pytest.approx(series.dt_s)
    assert np.allclose(back.signal, series.signal, atol=1e-3)
    assert np.allclose(back.reference.GetOrigin(), grid.GetOrigin())
    folder = write_dsc_dicom(series, tmp_path / "dicom")
    import pydicom

    uids = {pydicom.dcmread(f, stop_before_pixels=True).SOPInstanceUID for f in folder.iterdir()}
    assert len(uids) == series.signal.shape[0] * series.signal.shape[1]  # unique per slice and frame
    dcm = read_dsc(folder)
    assert dcm.signal.shape == series.signal.shape
    assert np.allclose(dcm.times_s, series.times_s, atol=1e-3)
    assert np.allclose(dcm.signal, np.clip(series.signal, 0, None), rtol=1e-3, atol=0.1)  # unsigned pixels
    assert np.allclose(dcm.reference.GetOrigin(), grid.GetOrigin(), atol=1e-3)
    sitk.WriteImage(lesion, str(tmp_path / "lesion.nii.gz"))
    assert main(["perfusion", "--dsc", str(nii), "--lesion", str(tmp_path / "lesion.nii.gz"), "--json"]) == 0
    out = json.loads(capsys.readouterr().out)
    assert out["rcbv_mean"] == pytest.approx(3.0, rel=0.05)
    assert {o["name"] for o in out["observations"]} == {"dsc_rcbv_mean", "dsc_rcbv_max", "dsc_psr_pct"}
    assert main(["perfusion", "--dsc", str(folder), "--lesion", str(tmp_path / "lesion.nii.gz")]) == 0
    assert "rCBVmean" in capsys.readouterr().out


def test_cli_errors(tmp_path, capsys):
    grid, brain, lesion, _ = _grid(shape=(3, 32, 32))
    series = simulate_dsc(grid, brain=brain, lesion=lesion, lesion_rcbv=2.0, n_frames=30)
    nii = write_dsc_nifti(series, tmp_path / "dsc.nii.gz")
    sitk.WriteImage(lesion, str(tmp_path / "lesion.nii.gz"))
    other = sitk.Image(10, 10, 3, sitk.sitkUInt8)
    sitk.WriteImage(other, str(tmp_path / "small.nii.gz"))
    # lesion mask on another grid: an error, unless explicitly resampled
    assert main(["perfusion", "--dsc", str(nii), "--lesion", str(tmp_path / "small.nii.gz")]) == 2
    assert "different grids" in capsys.readouterr().err
    fine = sitk.Resample(lesion, [s * 2 for s in lesion.GetSize()], sitk.Transform(), sitk.sitkNearestNeighbor,
                         lesion.GetOrigin(), [s / 2 for s in lesion.GetSpacing()], lesion.GetDirection())
    sitk.WriteImage(fine, str(tmp_path / "fine.nii.gz"))
    args = ["perfusion", "--dsc", str(nii), "--lesion", str(tmp_path / "fine.nii.gz"), "--json"]
    assert main(args) == 2
    capsys.readouterr()
    assert main([*args, "--resample-masks"]) == 0
    assert json.loads(capsys.readouterr().out)["rcbv_mean"] == pytest.approx(2.0, rel=0.1)
    # a 3-D image given as the DSC series
    assert main(["perfusion", "--dsc", str(tmp_path / "lesion.nii.gz"), "--lesion", str(tmp_path / "lesion.nii.gz")]) == 2
    assert "4-D" in capsys.readouterr().err
    # no echo time
    (tmp_path / "dsc.json").unlink()
    assert main(["perfusion", "--dsc", str(nii), "--lesion", str(tmp_path / "lesion.nii.gz")]) == 2
    assert "echo time" in capsys.readouterr().err
    assert main(["perfusion", "--dsc", str(tmp_path / "missing.nii.gz"), "--lesion", "x.nii.gz"]) == 2
    empty = sitk.Image(grid.GetSize(), sitk.sitkUInt8)
    empty.CopyInformation(grid)
    with pytest.raises(GeometryError, match="empty"):
        analyze_dsc(series, lesion=empty)


def test_mask_on_grid_partial_volume_and_errors():
    from radnec.imaging.masks import mask_on_grid

    fine = sitk.Image(60, 60, 30, sitk.sitkUInt8)
    fine.SetSpacing((1.0, 1.0, 1.0))
    arr = np.zeros((30, 60, 60), np.uint8)
    arr[10:20, 20:32, 20:32] = 1  # 12 x 12 x 10 mm
    mask = sitk.GetImageFromArray(arr)
    mask.CopyInformation(fine)
    coarse = sitk.Image(20, 20, 6, sitk.sitkFloat32)
    coarse.SetSpacing((3.0, 3.0, 5.0))
    coarse.SetOrigin((1.0, 1.0, 2.0))  # voxel centres at 1, 4, 7, ... mm
    out = mask_on_grid(mask, coarse)
    vol = np.count_nonzero(sitk.GetArrayFromImage(out)) * 45.0
    assert vol == pytest.approx(12 * 12 * 10, rel=0.3)
    tiny = np.zeros_like(arr)
    tiny[15, 30, 30] = 1
    t = sitk.GetImageFromArray(tiny)
    t.CopyInformation(fine)
    with pytest.raises(GeometryError, match="empty on the series grid"):
        mask_on_grid(t, coarse)


def test_mosaic_dsc_rejected(tmp_path):
    import pydicom

    grid, brain, lesion, _ = _grid(shape=(3, 32, 32))
    series = simulate_dsc(grid, brain=brain, lesion=lesion, lesion_rcbv=2.0, n_frames=20)
    folder = write_dsc_dicom(series, tmp_path / "d")
    f = sorted(folder.iterdir())[0]
    ds = pydicom.dcmread(f)
    ds.ImageType = ["ORIGINAL", "PRIMARY", "M", "ND", "MOSAIC"]
    ds.save_as(f)
    with pytest.raises(InputError, match="MOSAIC"):
        read_dsc(folder)
