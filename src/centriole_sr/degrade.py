"""Turn confocal patches into widefield-like patches: blur, haze, resample, noise, normalise.

The order follows CSBDeep's simulation (PSF, then noise, then subsampling is replaced
by integration over the coarse pixel before the noise, as a camera does). Training data are
whole degraded fields (:class:`DegradedField`), normalised as restoration normalises a
widefield field, from which crops with their surroundings' haze are drawn.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Any

import numpy as np
from scipy import ndimage

from centriole_sr.io import normalize_percentile, percentile_bounds


@dataclass(frozen=True)
class Degradation:
    """Parameters of the confocal -> widefield degradation.

    All lengths in pixels of the working grid (:mod:`centriole_sr.grid`): the confocal grid
    for a whole-number pixel-size ratio.

    sigma_px: Gaussian blur (sigma_deg).
    scale: widefield pixel size / working pixel size (a whole number).
    haze_fraction: out-of-focus light added, relative to the in-focus signal's total.
    haze_sigma_px: width of the out-of-focus haze kernel.
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
        working_nm = working_pixel_nm(model)
        return cls(
            sigma_px=model.get(
                "sigma_degradation_working_px", model.get("sigma_degradation_confocal_px")
            ),  # fmt: skip
            scale=int(model["scale"]),
            haze_fraction=model["haze_fraction"],
            haze_sigma_px=model["haze_sigma_nm"] / working_nm,
            peak_photons=model["peak_photons"],
            read_noise_photons=model["read_noise_photons"],
        )


def working_pixel_nm(model: Mapping[str, Any]) -> float:
    """The working grid's pitch in a model.json (:mod:`centriole_sr.grid`); its confocal pixel
    where the model has no working grid (whole-number ratios, before it had one)."""
    return float(model.get("working_pixel_nm", model.get("confocal_pixel_nm", 0.0)))


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


def add_noise(
    signal_photons: np.ndarray, params: Degradation, rng: np.random.Generator
) -> np.ndarray:
    """A camera frame of a noise-free image in photons: Poisson shot noise plus read noise."""
    noisy = rng.poisson(np.clip(signal_photons, 0.0, None)).astype(np.float64)
    noisy += rng.normal(0.0, params.read_noise_photons, size=noisy.shape)
    return noisy.astype(np.float32)


@dataclass(frozen=True)
class DegradedField:
    """A whole confocal field and its degradation, as training crops are drawn from it.

    target: the confocal field normalised as restoration normalises a widefield field
    (:func:`normalize_percentile` over the whole field), confocal pixels.
    signal_photons: the noise-free widefield-like field in photons, widefield pixels: the haze
    of every pixel comes from its surroundings in the field, not from a crop.
    input_low, input_high: the percentiles of one noisy frame of ``signal_photons`` that
    :func:`normalize_percentile` maps to 0 and 1; every noisy crop is normalised with them.
    """

    target: np.ndarray
    signal_photons: np.ndarray
    input_low: float
    input_high: float

    def normalised(self, noisy_photons: np.ndarray) -> np.ndarray:
        """Noisy widefield-like photons on the scale restoration gives the whole field."""
        span = max(self.input_high - self.input_low, 1e-6)
        return ((noisy_photons - self.input_low) / span).astype(np.float32)


def degrade_field(confocal: np.ndarray, params: Degradation, seed: int) -> DegradedField:
    """Degrade a whole confocal field (y, x); rows and columns beyond a multiple of
    ``params.scale`` are dropped, so that both grids cover the same area."""
    height = confocal.shape[0] // params.scale * params.scale
    width = confocal.shape[1] // params.scale * params.scale
    target = normalize_percentile(confocal[:height, :width])
    signal = (widefield_signal(target, params) * params.peak_photons).astype(np.float32)
    frame = add_noise(signal, params, np.random.default_rng(seed))
    low, high = map(float, percentile_bounds(frame))
    return DegradedField(target, signal, low, high)


def nearest_origins_px(centres_yx_px: np.ndarray, crop_px: int, scale: int) -> np.ndarray:
    """Widefield-pixel origins (n, 2) of ``crop_px`` crops centred nearest to confocal (y, x)
    centres (widefield pixel i covers confocal pixels [i*scale, (i+1)*scale))."""
    centres = np.asarray(centres_yx_px, np.float64).reshape(-1, 2)
    return np.floor((centres + 0.5) / scale).astype(int) - crop_px // 2


def aligned_origins_px(
    centres_yx_px: np.ndarray, crop_px: int, scale: int, coarse_shape: tuple[int, int]
) -> np.ndarray:
    """Widefield-pixel origins (n, 2) of ``crop_px`` crops centred nearest to confocal (y, x)
    centres; crops that would leave the ``coarse_shape`` field are dropped.

    Widefield pixel i covers confocal pixels [i*scale, (i+1)*scale), so the confocal crop of
    origin ``origin * scale`` and size ``crop_px * scale`` covers the same area.
    """
    origins = nearest_origins_px(centres_yx_px, crop_px, scale)
    inside = np.all((origins >= 0) & (origins + crop_px <= np.asarray(coarse_shape)), axis=1)
    return origins[inside]


def field_crops(
    field: DegradedField,
    origins_yx_px: np.ndarray,
    crop_px: int,
    params: Degradation,
    rng: np.random.Generator,
) -> tuple[np.ndarray, np.ndarray]:
    """Noisy widefield-like crops and their confocal targets at widefield-pixel origins:
    (inputs (n, crop_px, crop_px), targets (n, crop_px*scale, crop_px*scale)), float32."""
    scale, fine_px = params.scale, crop_px * params.scale
    inputs = np.zeros((len(origins_yx_px), crop_px, crop_px), np.float32)
    targets = np.zeros((len(origins_yx_px), fine_px, fine_px), np.float32)
    for i, (top, left) in enumerate(np.asarray(origins_yx_px, int).reshape(-1, 2)):
        signal = field.signal_photons[top : top + crop_px, left : left + crop_px]
        inputs[i] = field.normalised(add_noise(signal, params, rng))
        targets[i] = field.target[top * scale : top * scale + fine_px,
                                  left * scale : left * scale + fine_px]  # fmt: skip
    return inputs, targets


def calibrated_noise(
    widefield: Sequence[tuple[np.ndarray, np.ndarray]],
    confocal_patches: Sequence[np.ndarray],
    params: Degradation,
) -> tuple[float, float]:
    """(peak_photons, read_noise_photons) that make degraded patches as noisy as real ones.

    ``widefield``: (field, its patches) of one or more real widefield fields;
    ``confocal_patches``: crops of confocal fields normalised as whole fields (the training
    targets' scale, :class:`DegradedField`). Each field's
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
    signals = [widefield_signal(patch, params) for patch in confocal_patches]
    signal_low, signal_high = np.array([np.percentile(s, [1.0, 99.8]) for s in signals]).T
    peak_photons = range_photons / float(np.median(signal_high - signal_low))
    signal_background = float(np.median([np.median(s) for s in signals])) * peak_photons
    read_noise = float(np.sqrt(max(background_variance - signal_background, 0.0)))
    return peak_photons, read_noise
