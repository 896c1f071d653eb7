import math

import numpy as np
import pandas as pd
import pytest
from scipy import ndimage

from centriole_sr import io
from centriole_sr.degrade import Degradation, widefield_signal
from centriole_sr.metrics import compare
from centriole_sr.quality import (
    data_consistency,
    decorrelation_cutoff,
    decorrelation_resolution_nm,
    domain_gap,
    radial_power_spectrum,
)
from centriole_sr.scoring import FIELD_COLUMNS
from centriole_sr.settings import Reading
from centriole_sr.stages.evaluation import evaluate_field

RNG_SEED = 0


def band_limited_noise(size: int, cutoff: float, rng: np.random.Generator) -> np.ndarray:
    """White noise keeping only frequencies below ``cutoff`` (fraction of Nyquist)."""
    frequency = np.fft.fftfreq(size) * 2  # 1 = Nyquist
    radius = np.hypot(frequency[:, None], frequency[None, :])
    spectrum = np.fft.fft2(rng.normal(size=(size, size))) * (radius < cutoff)
    image = np.real(np.fft.ifft2(spectrum))
    return image / image.std()


@pytest.mark.parametrize("cutoff", [0.3, 0.6])
def test_decorrelation_finds_the_cutoff_of_band_limited_signal(cutoff):
    rng = np.random.default_rng(RNG_SEED)
    image = band_limited_noise(256, cutoff, rng) + 0.1 * rng.normal(size=(256, 256))
    assert decorrelation_cutoff(image) == pytest.approx(cutoff, abs=0.04)
    # resolution = 2 pixels / cut-off, in nm
    resolution_nm = decorrelation_resolution_nm(image, pixel_nm=40.0)
    assert resolution_nm == pytest.approx(80.0 / cutoff, rel=0.1)


def test_decorrelation_resolution_worsens_with_blur_and_is_nan_without_structure():
    rng = np.random.default_rng(RNG_SEED)
    noise = rng.normal(size=(256, 256))
    resolutions = [
        decorrelation_resolution_nm(ndimage.gaussian_filter(noise, sigma_px), 50.0, 0.02)
        for sigma_px in (1.0, 2.0, 4.0)
    ]
    assert resolutions[0] < resolutions[1] < resolutions[2]
    assert math.isnan(decorrelation_resolution_nm(np.ones((64, 64)), 50.0))


def consistent_pair(rng: np.random.Generator) -> tuple[np.ndarray, np.ndarray, Degradation]:
    """A confocal-pixel image of blobs and the widefield image its degradation gives."""
    params = Degradation(sigma_px=1.0, scale=2, haze_fraction=0.3, haze_sigma_px=10.0)
    truth = np.zeros((256, 256))
    truth[rng.integers(20, 236, 30), rng.integers(20, 236, 30)] = 1.0
    truth = ndimage.gaussian_filter(truth, 1.5) * 50 + 0.02
    photons = widefield_signal(truth, params) * 400
    widefield = rng.poisson(photons) + rng.normal(0.0, 2.0, photons.shape)
    return truth, widefield, params


def test_data_consistency_passes_the_truth_and_flags_an_invented_centriole():
    rng = np.random.default_rng(RNG_SEED)
    truth, widefield, params = consistent_pair(rng)
    check = data_consistency(truth, widefield, params)
    assert check.invented_regions == 0
    assert check.rsp > 0.95
    assert np.median(np.abs(check.error_map)) < 1.0  # within the noise
    invented = truth.copy()
    spot = np.zeros_like(truth)
    spot[125, 65] = 1.0
    invented += ndimage.gaussian_filter(spot, 1.5) * 50  # a centriole where the sample has none
    flagged = data_consistency(invented, widefield, params)
    assert flagged.invented_regions == 1
    rows, columns = np.nonzero(flagged.invented)
    assert abs(rows.mean() * 2 - 125) < 6 and abs(columns.mean() * 2 - 65) < 6  # at the spot
    assert flagged.rse > check.rse and flagged.rsp < check.rsp


def test_data_consistency_allows_a_model_a_third_off_but_not_a_feature_half_unsupported():
    """The widefield blurred 30 % wider than the model says: the truth's centrioles come out
    too bright after the model's blur, far beyond the noise, yet are not invented; a
    centriole pasted at a quarter of their brightness still is."""
    rng = np.random.default_rng(RNG_SEED)
    truth, _, params = consistent_pair(rng)
    wider = Degradation(sigma_px=1.3, scale=2, haze_fraction=0.3, haze_sigma_px=10.0)
    photons = widefield_signal(truth, wider) * 400
    widefield = rng.poisson(photons) + rng.normal(0.0, 2.0, photons.shape)
    strict = data_consistency(truth, widefield, params, unsupported_fraction=0.0)
    assert strict.invented_regions >= 5  # noise alone would flag the truth
    assert data_consistency(truth, widefield, params).invented_regions == 0
    spot = np.zeros_like(truth)
    spot[125, 65] = 1.0
    pasted = truth + 0.25 * ndimage.gaussian_filter(spot, 1.5) * 50
    flagged = data_consistency(pasted, widefield, params)
    assert flagged.invented_regions == 1
    rows, columns = np.nonzero(flagged.invented)
    assert abs(rows.mean() * 2 - 125) < 6 and abs(columns.mean() * 2 - 65) < 6


def test_data_consistency_does_not_call_missing_structure_invented():
    rng = np.random.default_rng(RNG_SEED)
    truth, widefield, params = consistent_pair(rng)
    blobs, count = ndimage.label(truth > truth.min() + 0.01)
    centres = np.array(ndimage.center_of_mass(truth, blobs, range(1, count + 1)))
    removed = 1 + np.flatnonzero((centres > 60).all(axis=1) & (centres < 200).all(axis=1))
    assert len(removed) >= 5
    dimmed = np.where(np.isin(blobs, removed), truth.min(), truth)  # whole blobs removed
    assert data_consistency(dimmed, widefield, params).invented_regions == 0


def test_error_maps_are_zero_and_one_for_a_perfect_prediction():
    target = ndimage.gaussian_filter(np.random.default_rng(RNG_SEED).random((64, 64)), 2)
    metrics, error, ssim_map = compare(3 * target + 1, target)
    assert metrics["ssim"] == pytest.approx(1.0, abs=1e-3) and metrics["psnr_db"] > 60
    np.testing.assert_allclose(error, 0.0, atol=1e-4)
    np.testing.assert_allclose(ssim_map, 1.0, atol=1e-3)


def test_field_without_picks_or_reference_is_scored_without_crashing(tmp_path):
    """Real data: no reference image and a field where Topaz picked nothing."""
    rng = np.random.default_rng(RNG_SEED)
    truth, widefield, params = consistent_pair(rng)
    io.write_tiff(tmp_path / "wf.tif", widefield.astype(np.float32), 90.0)
    io.write_tiff(tmp_path / "restored.tif", truth.astype(np.float32), 45.0)
    io.write_tiff(tmp_path / "trust.tif", np.full(truth.shape, 0.01, np.float32), 45.0)
    io.write_table(tmp_path / "picks.tsv", pd.DataFrame(columns=["y_px", "x_px", "score"]))
    io.write_json(
        tmp_path / "model.json", {"scale": 2, "sigma_degradation_confocal_px": 1.0,
                                  "confocal_pixel_nm": 45.0, "haze_fraction": 0.3,
                                  "haze_sigma_nm": 450.0, "peak_photons": 100,
                                  "read_noise_photons": 2.0}
    )  # fmt: skip
    io.write_json(tmp_path / "rl.json", {"iterations": 2})
    evaluate_field(
        widefield=tmp_path / "wf.tif", restored=tmp_path / "restored.tif",
        trust=tmp_path / "trust.tif", picks=tmp_path / "picks.tsv", model=tmp_path / "model.json",
        rl_iterations=tmp_path / "rl.json", field="field00", widefield_pixel_nm=90.0,
        confocal_pixel_nm=45.0, consistency_threshold_sigma=5.0, region_radius_nm=400.0,
        reading=Reading(channel=None, z_stack="max"), table=tmp_path / "table.csv",
        gallery=tmp_path / "gallery.png", maps=tmp_path / "maps.png", log=tmp_path / "log.txt",
    )  # fmt: skip
    table = pd.read_csv(tmp_path / "table.csv")
    assert list(table.columns) == FIELD_COLUMNS
    assert list(table["method"]) == [
        "widefield_input", "bicubic", "richardson_lucy", "wiener", "network"
    ]  # fmt: skip
    assert table[["psnr_db", "ssim", "nrmse"]].isna().all().all()  # no reference
    assert table["resolution_nm"].notna().all()
    network = table.set_index("method").loc["network"]
    assert network["invented_regions"] == 0 and network["consistency_rsp"] > 0.95
    low, high = np.percentile(truth, [1, 99.8])  # the trust map relative to that range
    assert network["trust_spread"] == pytest.approx(0.01 / (high - low), rel=1e-3)
    assert np.isnan(network["trust_spread_centrioles"])  # no picks: no centriole discs
    log = (tmp_path / "log.txt").read_text()
    assert "no reference image" in log and "no picks" in log


def blob_patches(rng: np.random.Generator, count: int, noise: float) -> np.ndarray:
    """Patches of one blurred blob each, with white noise of standard deviation ``noise``."""
    patches = np.zeros((count, 32, 32))
    patches[:, 16, 16] = 1.0
    patches = ndimage.gaussian_filter(patches, (0, 2, 2)) * 25
    return patches + rng.normal(0.0, noise, patches.shape)


def test_radial_power_spectrum_of_white_noise_is_flat():
    rng = np.random.default_rng(RNG_SEED)
    frequency, power = radial_power_spectrum(rng.normal(size=(200, 32, 32)))
    assert frequency[0] == 0 and frequency[-1] == pytest.approx(0.5)
    # every ring but DC within 15 % of the mean
    np.testing.assert_allclose(power[1:], power[1:].mean(), rtol=0.15)


def test_domain_gap_grows_with_a_noise_mismatch_and_measures_the_noise():
    rng = np.random.default_rng(RNG_SEED)
    widefield = blob_patches(rng, 100, 0.02)
    same = domain_gap(blob_patches(rng, 100, 0.02), widefield)
    noisier = domain_gap(blob_patches(rng, 100, 0.08), widefield)
    assert same["spectral_gap_db"] < 1.0
    assert noisier["spectral_gap_db"] > same["spectral_gap_db"] + 3.0
    assert noisier["degraded_noise"] == pytest.approx(4 * noisier["widefield_noise"], rel=0.25)
    with pytest.raises(ValueError, match="both kinds"):
        domain_gap(widefield[:0], widefield)
