import numpy as np
import pytest

from centriole_sr.metrics import affine_fit, restoration_metrics


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
