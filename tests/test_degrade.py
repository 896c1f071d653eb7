import numpy as np
import pytest
from scipy import ndimage

from centriole_sr.degrade import (
    Degradation,
    add_noise,
    aligned_origins_px,
    block_mean,
    calibrated_noise,
    degrade_field,
    field_crops,
    widefield_signal,
)


def _second_moment_sigma(image: np.ndarray) -> float:
    y, x = np.indices(image.shape)
    weights = image / image.sum()
    cy, cx = (weights * y).sum(), (weights * x).sum()
    return float(np.sqrt((weights * ((y - cy) ** 2 + (x - cx) ** 2)).sum() / 2))


def test_blur_width_measured_on_a_point_source():
    point = np.zeros((96, 96))
    point[48, 48] = 1.0
    params = Degradation(
        sigma_px=2.5, scale=1, haze_fraction=0.0, peak_photons=1e9, read_noise_photons=0.0
    )
    field = degrade_field(point, params, seed=0)
    degraded = field.normalised(add_noise(field.signal_photons, params, np.random.default_rng(0)))
    degraded -= np.median(degraded)
    assert _second_moment_sigma(np.clip(degraded, 0, None)) == pytest.approx(2.5, rel=0.03)


def test_block_mean_keeps_the_physical_position():
    image = np.zeros((64, 64))
    image[30:34, 40:44] = 1.0  # centred at 31.5, 41.5 -> coarse (31.5 + 0.5) / 2 - 0.5 = 15.5
    coarse = block_mean(image, 2)
    assert ndimage.center_of_mass(coarse) == pytest.approx((15.5, 20.5))


def test_degraded_fields_have_the_widefield_size_and_are_deterministic():
    confocal = np.random.default_rng(2).random((65, 64)).astype(np.float32)
    params = Degradation(sigma_px=1.3, scale=2)
    field, again = degrade_field(confocal, params, seed=4), degrade_field(confocal, params, 4)
    assert field.signal_photons.shape == (32, 32) and field.target.shape == (64, 64)
    assert (field.input_low, field.input_high) == (again.input_low, again.input_high)
    assert field.input_low != degrade_field(confocal, params, seed=5).input_low


def test_a_field_crop_gets_its_haze_from_outside_the_crop():
    """A bright cell just outside a crop lifts the crop's widefield background, as out-of-focus
    light does in a real widefield, while a crop degraded on its own stays dark."""
    confocal = np.zeros((128, 128), np.float32)
    confocal[60:68, 90:98] = 1.0  # outside the crop [0, 64) x [0, 64)... see below
    confocal[30, 30] = 1.0
    params = Degradation(sigma_px=1.5, scale=2, haze_fraction=2.0, haze_sigma_px=20.0,
                         peak_photons=1e5, read_noise_photons=0.0)  # fmt: skip
    field = degrade_field(confocal, params, seed=0)
    crop_in, crop_target = field_crops(field, np.array([[0, 0]]), 32, params,
                                       np.random.default_rng(0))  # fmt: skip
    np.testing.assert_array_equal(crop_target[0], field.target[:64, :64])
    alone = widefield_signal(field.target[:64, :64], params)
    with_surroundings = field.signal_photons[:32, 32 - 8 : 32] / params.peak_photons
    assert with_surroundings.mean() > 3 * alone[:, 24:].mean()
    # normalised as the whole noisy field: its percentiles 1 and 99.8 map to 0 and 1
    frame = field.normalised(field.signal_photons)
    assert np.percentile(frame, 99.8) == pytest.approx(1.0, abs=0.05)
    assert crop_in.shape == (1, 32, 32)


def test_aligned_origins_cover_the_same_area_on_both_grids():
    """A crop around a confocal centre holds it in its central pixels on both grids; crops
    leaving the field are dropped."""
    centres = np.array([[40.0, 41.0], [3.0, 50.0], [100.0, 100.0]])
    origins = aligned_origins_px(centres, 16, 2, (56, 56))
    assert origins.tolist() == [[12, 12]]
    top, left = origins[0] * 2
    assert top + 16 - 1 <= 40 <= top + 16 and left + 16 - 1 <= 41 <= left + 16 + 1


def test_noise_level_follows_the_photon_budget():
    flat = np.full((64, 64), 0.5) + np.eye(64) * 0.5
    rng = np.random.default_rng(3)
    noisy_low, noisy_high = (
        add_noise(widefield_signal(flat, params) * params.peak_photons, params, rng)
        for params in (Degradation(1.0, 1, 0.0, peak_photons=10),
                       Degradation(1.0, 1, 0.0, peak_photons=10000))
    )  # fmt: skip
    reference = ndimage.gaussian_filter(flat, 1.0)
    errors = [
        np.corrcoef(image.ravel(), reference.ravel())[0, 1] for image in (noisy_low, noisy_high)
    ]
    assert errors[1] > errors[0] + 0.1


def test_noise_calibrated_from_a_widefield_field_gives_its_photon_budget():
    """Camera data (gain 2, baseline 100) of patches made by the degradation itself with a
    known photon budget, over a background that varies from patch to patch (haze)."""
    rng = np.random.default_rng(0)
    confocal = np.zeros((100, 64, 64))
    confocal[np.arange(100), rng.integers(24, 40, 100), rng.integers(24, 40, 100)] = 1.0
    confocal = ndimage.gaussian_filter(confocal, (0, 2, 2)) * 100
    params = Degradation(sigma_px=1.0, scale=2, haze_fraction=0.0)
    peak_photons, read_photons = 200.0, 3.0
    background_photons = rng.uniform(5.0, 60.0, 100)
    photons = [
        widefield_signal(patch, params) * peak_photons + background
        for patch, background in zip(confocal, background_photons, strict=True)
    ]
    camera = np.stack(
        [2.0 * (rng.poisson(np.clip(p, 0, None)) + rng.normal(0, read_photons, p.shape)) + 100
         for p in photons]
    )  # fmt: skip
    # two fields of 50 patches each, as the labelled widefield fields of a run
    fields = [np.block([[camera[50 * k + 10 * i + j] for j in range(10)] for i in range(5)])
              for k in range(2)]  # fmt: skip
    widefield = [(fields[k], camera[50 * k : 50 * (k + 1)]) for k in range(2)]
    calibrated_peak, calibrated_read = calibrated_noise(widefield, confocal, params)
    assert calibrated_peak == pytest.approx(peak_photons, rel=0.15)
    # the background's own shot noise counts as read noise: the degradation has no background
    expected_read = np.sqrt(read_photons**2 + np.median(background_photons))
    assert calibrated_read == pytest.approx(expected_read, rel=0.2)
