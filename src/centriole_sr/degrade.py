"""Turn confocal patches into widefield-like patches: blur, haze, resample, noise, normalise.

The order follows CSBDeep's simulation (PSF, then noise, then subsampling is replaced
by integration over the coarse pixel before the noise, as a camera does).
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Any

import numpy as np
from scipy import ndimage

from centriole_sr.io import normalize_percentile


@dataclass(frozen=True)
class Degradation:
    """Parameters of the confocal -> widefield degradation.

    sigma_px: Gaussian blur in confocal pixels (sigma_deg).
    scale: widefield pixel size / confocal pixel size (integer).
    haze_fraction: out-of-focus light added, relative to the in-focus signal's total.
    haze_sigma_px: width (confocal pixels) of the out-of-focus haze kernel.
    peak_photons: photons at the in-focus signal's 99.8th percentile (sets Poisson noise).
    read_noise_photons: standard deviation of Gaussian camera noise, in photons.
    """

    sigma_px: float
    scale: int
    haze_fraction: float = 0.5
    haze_sigma_px: float = 12.0
    peak_photons: float = 100.0
    read_noise_photons: float = 2.0

    @classmethod
    def from_model(cls, model: Mapping[str, Any]) -> Degradation:
        """The degradation written to results/degradation/model.json (``degradation_model``)."""
        return cls(
            sigma_px=model["sigma_degradation_confocal_px"],
            scale=int(model["scale"]),
            haze_fraction=model["haze_fraction"],
            haze_sigma_px=model["haze_sigma_nm"] / model["confocal_pixel_nm"],
            peak_photons=model["peak_photons"],
            read_noise_photons=model["read_noise_photons"],
        )


def block_mean(image: np.ndarray, scale: int) -> np.ndarray:
    """Average ``scale`` x ``scale`` blocks (a camera pixel integrating finer pixels).

    Pixel i of the result covers pixels [i*scale, (i+1)*scale) of the input, so
    physical positions are kept exactly; trailing rows/columns that do not fill a
    block are dropped.
    """
    height, width = (image.shape[0] // scale) * scale, (image.shape[1] // scale) * scale
    blocks = image[:height, :width].reshape(height // scale, scale, width // scale, scale)
    return blocks.mean(axis=(1, 3), dtype=np.float64).astype(np.float32)


def widefield_signal(image: np.ndarray, params: Degradation) -> np.ndarray:
    """The noise-free part of the degradation: blur, haze and integration over widefield pixels.

    ``image`` (y, x) at the confocal pixel size, negative values clipped to 0; the output
    has shape (y // scale, x // scale) and the input's intensity units.
    """
    signal = np.clip(image.astype(np.float64), 0.0, None)
    blurred = ndimage.gaussian_filter(signal, params.sigma_px, mode="reflect")
    if params.haze_fraction > 0:
        haze = ndimage.gaussian_filter(signal, params.haze_sigma_px, mode="reflect")
        blurred = blurred + params.haze_fraction * haze
    return block_mean(blurred, params.scale)


def degrade(patch: np.ndarray, params: Degradation, rng: np.random.Generator) -> np.ndarray:
    """Degrade one normalised confocal patch (y, x) into a normalised widefield-like patch.

    The output has shape (y // scale, x // scale).
    """
    coarse = widefield_signal(patch, params) * params.peak_photons
    noisy = rng.poisson(np.clip(coarse, 0.0, None)).astype(np.float64)
    noisy += rng.normal(0.0, params.read_noise_photons, size=noisy.shape)
    return normalize_percentile(noisy.astype(np.float32))


def degrade_patches(
    patches: np.ndarray, params: Degradation, seed: int
) -> tuple[np.ndarray, np.ndarray]:
    """Normalise confocal patches (n, y, x) and degrade each one.

    Returns (inputs at the widefield pixel size, targets at the confocal pixel size),
    both float32 and normalised with :func:`normalize_percentile`.
    """
    rng = np.random.default_rng(seed)
    targets = np.stack([normalize_percentile(p) for p in patches]) if len(patches) else patches
    inputs = [degrade(target, params, rng) for target in targets]
    coarse = patches.shape[-1] // params.scale
    inputs_array = np.stack(inputs) if inputs else np.zeros((0, coarse, coarse), np.float32)
    return inputs_array, targets.astype(np.float32)


def calibrated_noise(
    widefield: Sequence[tuple[np.ndarray, np.ndarray]],
    confocal_patches: np.ndarray,
    params: Degradation,
) -> tuple[float, float]:
    """(peak_photons, read_noise_photons) that make degraded patches as noisy as real ones.

    ``widefield``: (field, its patches) of one or more real widefield fields. Each field's
    noise (:func:`centriole_sr.noise.fit_noise`, in its own units) gives its gain, hence its
    patches' signal range in photons and their background noise in photons; the confocal
    patches, degraded without noise by ``params``, give the signal range that
    ``peak_photons`` multiplies and their background signal, whose Poisson noise the read
    noise need not add again. Medians over all patches.
    """
    from centriole_sr.noise import fit_noise

    ranges_photons, background_variances = [], []
    for field, patches in widefield:
        noise = fit_noise(field)
        if noise.gain <= 0:
            raise ValueError("the widefield field shows no Poisson noise to calibrate against")
        low, high = np.percentile(patches, [1.0, 99.8], axis=(1, 2))
        ranges_photons.append((high - low) / noise.gain)
        background = np.median(patches, axis=(1, 2))
        background_variances.append(noise.variance(background) / noise.gain**2)
    range_photons = float(np.median(np.concatenate(ranges_photons)))
    background_variance = float(np.median(np.concatenate(background_variances)))
    signals = [widefield_signal(normalize_percentile(p), params) for p in confocal_patches]
    signal_low, signal_high = np.percentile(np.stack(signals), [1.0, 99.8], axis=(1, 2))
    peak_photons = range_photons / float(np.median(signal_high - signal_low))
    signal_background = float(np.median([np.median(s) for s in signals])) * peak_photons
    read_noise = float(np.sqrt(max(background_variance - signal_background, 0.0)))
    return peak_photons, read_noise
