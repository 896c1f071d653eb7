"""Image-quality metrics computed as microscopists expect (CARE's evaluation).

The target is percentile-normalised, the prediction is mapped onto it by the
least-squares affine fit, then scikit-image's PSNR, SSIM and NRMSE are computed
with a data range of 1.
"""

from __future__ import annotations

import numpy as np
from skimage.metrics import normalized_root_mse, peak_signal_noise_ratio, structural_similarity

from centriole_sr.io import normalize_percentile


def affine_fit(prediction: np.ndarray, target: np.ndarray) -> np.ndarray:
    """Return ``a * prediction + b`` with (a, b) minimising the squared error to ``target``."""
    x = prediction.astype(np.float64).ravel()
    y = target.astype(np.float64).ravel()
    x_centred = x - x.mean()
    variance = float(np.dot(x_centred, x_centred))
    slope = float(np.dot(x_centred, y - y.mean())) / variance if variance > 0 else 0.0
    offset = y.mean() - slope * x.mean()
    return (slope * prediction.astype(np.float64) + offset).astype(np.float32)


def restoration_metrics(prediction: np.ndarray, target: np.ndarray) -> dict[str, float]:
    """PSNR (dB), SSIM and NRMSE of ``prediction`` against ``target`` (same shape)."""
    if prediction.shape != target.shape:
        raise ValueError(f"shape mismatch: prediction {prediction.shape}, target {target.shape}")
    target_norm = normalize_percentile(target, 0.1, 99.9)
    fitted = affine_fit(prediction, target_norm)
    return {
        "psnr_db": float(peak_signal_noise_ratio(target_norm, fitted, data_range=1.0)),
        "ssim": float(structural_similarity(target_norm, fitted, data_range=1.0)),
        "nrmse": float(normalized_root_mse(target_norm, fitted)),
    }
