import numpy as np
import pytest
from scipy import ndimage

from centriole_sr.metrics import (
    affine_fit,
    centre_discs,
    compare,
    region_metrics,
    restoration_metrics,
)


def test_affine_fit_removes_gain_and_offset():
    target = np.random.default_rng(0).random((32, 32)).astype(np.float32)
    np.testing.assert_allclose(affine_fit(3.0 * target - 7.0, target), target, atol=1e-5)


def test_metrics_rank_a_closer_prediction_higher():
    rng = np.random.default_rng(1)
    target = rng.random((64, 64)).astype(np.float32)
    close = target + 0.05 * rng.standard_normal(target.shape).astype(np.float32)
    far = target + 0.3 * rng.standard_normal(target.shape).astype(np.float32)
    good, bad = restoration_metrics(close, target), restoration_metrics(far, target)
    assert good["psnr_db"] > bad["psnr_db"] + 10
    assert good["ssim"] > bad["ssim"] and good["nrmse"] < bad["nrmse"]
    assert restoration_metrics(target * 5 + 2, target)["psnr_db"] > 80


def test_metrics_refuse_shape_mismatch():
    with pytest.raises(ValueError, match="shape"):
        restoration_metrics(np.zeros((4, 4)), np.zeros((4, 5)))


def test_discs_cover_the_pixels_near_centres_and_stop_at_borders():
    mask = centre_discs((20, 30), np.array([[10.0, 10.0], [0.0, 29.0]]), radius_px=2.0)
    assert mask[10, 12] and mask[12, 10] and not mask[12, 12] and not mask[10, 13]
    assert mask[0, 29] and mask[2, 29] and not mask[3, 29]
    assert mask.sum() == 13 + 6


def test_region_scores_say_where_an_error_lies():
    """An error in the background lowers the background's PSNR, not the centrioles'."""
    rng = np.random.default_rng(0)
    target = np.zeros((96, 96))
    centres = np.array([[30.0, 30.0], [60.0, 70.0]])
    target[30, 30] = target[60, 70] = 1.0
    target = ndimage.gaussian_filter(target, 2.0) + 0.01 * rng.random((96, 96))
    prediction = target.copy()
    prediction[80:, :20] += 0.05 * target.max()  # a lifted patch of background
    _, error, ssim_map = compare(prediction, target)
    scores = region_metrics(error, ssim_map, centre_discs(target.shape, centres, 8.0))
    assert scores["psnr_centrioles_db"] > scores["psnr_background_db"] + 5
    assert scores["ssim_centrioles"] > scores["ssim_background"]
