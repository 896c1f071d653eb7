"""Tests of the classical baselines: geometry of bicubic upsampling, deconvolution gains."""

import numpy as np
import pytest
from scipy import ndimage

from centriole_sr.baselines import (
    best_rl_iterations,
    bicubic_upsample,
    gaussian_psf,
    richardson_lucy_gaussian,
    wiener_gaussian,
)
from centriole_sr.io import normalize_percentile
from centriole_sr.metrics import restoration_metrics

SIGMA_PX = 1.4


def _point_cloud(seed: int, noisy: bool = True) -> tuple[np.ndarray, np.ndarray]:
    """A sparse point cloud (truth) and its normalised Gaussian-blurred, noisy image."""
    rng = np.random.default_rng(seed)
    truth = np.zeros((64, 64))
    points = rng.integers(6, 58, size=(25, 2))
    truth[points[:, 0], points[:, 1]] = rng.uniform(0.5, 1.0, 25)
    truth = ndimage.gaussian_filter(truth, 0.6)
    blurred = ndimage.gaussian_filter(truth, SIGMA_PX)
    if noisy:
        photons = 2000 / blurred.max()
        blurred = rng.poisson(blurred * photons) / photons
    return normalize_percentile(truth), normalize_percentile(blurred.astype(np.float32))


def test_bicubic_keeps_a_point_centred():
    image = np.zeros((32, 32), np.float32)
    image[15, 12] = 1.0
    upsampled = bicubic_upsample(image, 2)
    assert upsampled.shape == (64, 64)
    assert upsampled.dtype == np.float32
    rows, cols = np.indices(upsampled.shape) + 0.5  # pixel centres, in fine pixels
    weights = upsampled / upsampled.sum()
    # coarse pixel (15, 12) covers [15, 16) x [12, 13): its centre is (15.5, 12.5)
    assert (weights * rows).sum() / 2 == pytest.approx(15.5, abs=1e-3)
    assert (weights * cols).sum() / 2 == pytest.approx(12.5, abs=1e-3)


def test_bicubic_keeps_an_edge_in_place():
    image = np.zeros((8, 16), np.float32)
    image[:, 8:] = 1.0  # edge at x = 8 coarse pixels = 16 fine pixels
    row = bicubic_upsample(image, 2)[4]
    assert row[15] + row[16] == pytest.approx(1.0, abs=1e-4)
    assert row[15] < 0.5 < row[16]


def test_gaussian_psf_matches_the_degradation_blur():
    psf = gaussian_psf(SIGMA_PX)
    point = np.zeros((41, 41))
    point[20, 20] = 1.0
    blurred = ndimage.gaussian_filter(point, SIGMA_PX)
    radius = psf.shape[0] // 2
    assert np.allclose(psf, blurred[20 - radius : 21 + radius, 20 - radius : 21 + radius])
    assert psf.sum() == pytest.approx(1.0)


def test_richardson_lucy_beats_the_blurred_image():
    truth, blurred = _point_cloud(1)
    restored = richardson_lucy_gaussian(blurred, SIGMA_PX, 20)
    assert restored.shape == blurred.shape
    assert restored.dtype == np.float32
    gain = restoration_metrics(restored, truth)["psnr_db"]
    assert gain > restoration_metrics(blurred, truth)["psnr_db"] + 1.0


def test_wiener_beats_the_blurred_image():
    truth, blurred = _point_cloud(2)
    restored = wiener_gaussian(blurred, SIGMA_PX, balance=0.001)
    assert restored.shape == blurred.shape
    gain = restoration_metrics(restored, truth)["psnr_db"]
    assert gain > restoration_metrics(blurred, truth)["psnr_db"] + 1.0


def test_best_rl_iterations_prefers_more_iterations_without_noise():
    pairs = [_point_cloud(seed, noisy=False) for seed in range(3)]
    targets = np.stack([truth for truth, _ in pairs])
    blurred = np.stack([image for _, image in pairs])
    assert best_rl_iterations(blurred, targets, SIGMA_PX, candidates=(2, 40)) == 40
