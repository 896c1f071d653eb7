"""Checks that need no ground truth: resolution by decorrelation analysis, and data consistency.

Resolution: Descloux, Grußmayer & Radenovic, "Parameter-free image resolution estimation
based on decorrelation analysis", Nature Methods 16:918 (2019). The image's Fourier
transform is correlated with its own phase (the transform normalised to modulus 1) inside
discs of growing radius; the radius of the correlation's peak is the highest frequency
that carries signal rather than noise. Repeating this on high-pass filtered copies finds
the highest such frequency kc (as a fraction of Nyquist); the resolution is 2 px / kc.

Data consistency (the idea of NanoJ-SQUIRREL, Culley et al., Nature Methods 2018): the
restored image, degraded again by the same model the network was trained to invert, must
give back the widefield image it came from, within the widefield noise. Where it is
brighter than the widefield by many noise standard deviations, the restoration shows
structure the widefield data do not support.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
from scipy import ndimage

from centriole_sr.baselines import gaussian_psf
from centriole_sr.degrade import Degradation, widefield_signal
from centriole_sr.io import normalize_percentile
from centriole_sr.noise import fit_noise, neighbour_residual

DECORRELATION_RADII = 50
DECORRELATION_FILTERS = 10
RADIAL_BINS = 2048
MIN_PEAK_AMPLITUDE = 0.05
"""Peaks of the decorrelation function below this are noise (Descloux et al.)."""


def _apodized(image: np.ndarray, edge_px: int = 20) -> np.ndarray:
    """Mean-free image with a cosine roll-off at the borders (no edge streaks in Fourier)."""
    image = image.astype(np.float64) - float(np.mean(image))
    window = []
    for size in image.shape:
        ramp_px = min(edge_px, size // 4)
        profile = np.ones(size)
        if ramp_px > 0:
            rise = 0.5 - 0.5 * np.cos(np.pi * (np.arange(ramp_px) + 0.5) / ramp_px)
            profile[:ramp_px], profile[-ramp_px:] = rise, rise[::-1]
        window.append(profile)
    return image * np.outer(*window)


def _local_max(curve: np.ndarray, min_drop: float = 5e-4) -> int:
    """Index of the decorrelation curve's highest local maximum (not its end point)."""
    end = len(curve)
    while end > 1:
        index = int(np.argmax(curve[:end]))
        if index == 0 or (index < end - 1 and curve[index] - curve[index:end].min() >= min_drop):
            return index
        end = index if index == end - 1 else end - 1
    return 0


def decorrelation_cutoff(image: np.ndarray) -> float:
    """Highest frequency with signal above noise, as a fraction of Nyquist (0-1].

    Returns 0 when no peak rises above the noise (no resolvable structure).
    """
    height, width = (image.shape[0] // 2) * 2 - 1, (image.shape[1] // 2) * 2 - 1  # odd sizes
    spectrum = np.fft.fftshift(np.fft.fft2(_apodized(image[:height, :width])))
    fy = np.linspace(-1.0, 1.0, height)[:, None]
    fx = np.linspace(-1.0, 1.0, width)[None, :]
    radius = np.sqrt(fy**2 + fx**2)
    inside = (radius < 1.0) & (np.abs(spectrum) > 0)
    # Everything below depends on the frequency only through its radius: sums over fine
    # radial bins make each decorrelation curve cost O(bins) instead of O(pixels).
    ring = np.minimum((radius[inside] * RADIAL_BINS).astype(int), RADIAL_BINS - 1)
    magnitude = np.abs(spectrum[inside])
    counts = np.bincount(ring, minlength=RADIAL_BINS)
    sum_magnitude = np.bincount(ring, magnitude, minlength=RADIAL_BINS)
    sum_power = np.bincount(ring, magnitude**2, minlength=RADIAL_BINS)
    bin_radius = (np.arange(RADIAL_BINS) + 0.5) / RADIAL_BINS
    cumulative_counts = np.concatenate([[0], np.cumsum(counts)])

    def peak(weights: np.ndarray, radii: np.ndarray) -> tuple[float, float]:
        """(radius, amplitude) of the peak of d(r) for the spectrum filtered by ``weights``.

        d(r) = sum over |k| < r of |I_w| (the filtered spectrum times the conjugate of the
        unit-modulus phase) / (||I_w|| * sqrt(pixels with |k| < r)).
        """
        norm = np.sqrt(np.sum(weights**2 * sum_power))
        cumulative = np.concatenate([[0.0], np.cumsum(weights * sum_magnitude)])
        edges = np.minimum(np.ceil(radii * RADIAL_BINS).astype(int), RADIAL_BINS)
        with np.errstate(invalid="ignore", divide="ignore"):
            curve = np.nan_to_num(cumulative[edges] / (norm * np.sqrt(cumulative_counts[edges])))
        index = _local_max(curve)
        return float(radii[index]), float(curve[index])

    radii = np.linspace(0.0, 1.0, DECORRELATION_RADII)
    r0, a0 = peak(np.ones(RADIAL_BINS), radii)
    peaks = [(r0, a0)]
    g_max = 2.0 / r0 if r0 > 0 else max(height, width) / 2.0
    widths = np.exp(np.linspace(np.log(g_max), np.log(0.15), DECORRELATION_FILTERS))
    for refinement in range(2):
        found = [peak(1.0 - np.exp(-2.0 * g * g * bin_radius**2), radii) for g in widths]
        peaks += found
        if refinement == 0:  # resample around the best peak, as Descloux et al. do
            best = int(np.argmax([r for r, _ in found]))
            low, high = max(best - 1, 0), min(best + 1, len(widths) - 1)
            widths = np.exp(np.linspace(np.log(widths[low]), np.log(widths[high]), len(widths)))
            low_r = max(found[best][0] - 1.0 / DECORRELATION_RADII, 0.0)
            radii = np.linspace(low_r, min(found[best][0] + 0.3, 1.0), DECORRELATION_RADII)
    valid = [r for r, amplitude in peaks if amplitude >= MIN_PEAK_AMPLITUDE]
    return max(valid, default=0.0)


def decorrelation_resolution_nm(
    image: np.ndarray, pixel_nm: float, noise_sd: float = 0.0, seed: int = 0
) -> float:
    """Resolution (nm) of a 2D image by decorrelation analysis: 2 pixels / cut-off frequency.

    ``noise_sd`` > 0 adds white Gaussian noise of that standard deviation to the
    percentile-normalised image first. Decorrelation analysis finds where signal sinks
    below white noise, so an image without noise of its own (a restoration, an
    interpolation) must be given a noise floor to be measured: the same floor for every
    image makes their resolutions comparable. NaN when no structure rises above the noise.
    """
    if noise_sd > 0:
        noise = np.random.default_rng(seed).normal(0.0, noise_sd, image.shape)
        image = normalize_percentile(image) + noise
    cutoff = decorrelation_cutoff(image)
    return 2.0 * pixel_nm / cutoff if cutoff > 0 else float("nan")


def noise_sd(image: np.ndarray) -> float:
    """Standard deviation of the noise of a percentile-normalised image at its mean intensity."""
    normalized = normalize_percentile(image)
    return float(np.sqrt(fit_noise(normalized).variance(float(normalized.mean()))))


@dataclass(frozen=True)
class Consistency:
    """Data consistency of a restored image with its widefield input.

    rse: root-mean-square difference between the re-degraded restoration (affine-fitted)
        and the widefield image, both in the widefield's normalised units.
    rsp: Pearson correlation of the re-degraded restoration with the widefield image.
    error_map: re-degraded restoration minus widefield, smoothed over the PSF and divided
        by the noise's standard deviation there (y, x at the widefield pixel size).
    invented: pixels of a feature of the restoration where error_map exceeds the threshold
        (restored brighter than the data allow: structure the widefield does not support).
    """

    rse: float
    rsp: float
    error_map: np.ndarray
    invented: np.ndarray

    @property
    def invented_area_fraction(self) -> float:
        """Fraction of the field flagged as invented."""
        return float(self.invented.mean())

    @property
    def invented_regions(self) -> int:
        """Connected regions flagged as invented."""
        return int(ndimage.label(self.invented)[1])


def data_consistency(
    restored: np.ndarray,
    widefield: np.ndarray,
    params: Degradation,
    smoothing_px: float = 1.0,
    background_px: float = 5.0,
    threshold_sigma: float = 5.0,
    unsupported_fraction: float = 0.5,
) -> Consistency:
    """Degrade ``restored`` (confocal pixels) with ``params`` and compare it with ``widefield``.

    The error map is the difference averaged over about a PSF (Gaussian of ``smoothing_px``
    widefield pixels) minus its local median over ``background_px`` around: structure of a
    centriole's scale, not a difference in haze or background, which says nothing of
    invented detail. A region is invented where that difference exceeds ``threshold_sigma``
    noise standard deviations on a feature of the restoration (the restoration's own
    band-passed signal above the same threshold), and more than ``unsupported_fraction`` of
    that feature is missing from the data: the ring that missing structure leaves in the
    difference is not invented, nor is a true feature that the degradation model, a few
    tens of percent off in blur or haze, predicts too bright (measured on the demo: the
    noise-free truth is flagged in 13-27 regions per field with 0, in none with 0.3-0.7;
    centrioles pasted at a quarter of their brightness are found alike). The gain and
    offset between the two are fitted on the pixels that agree, weighted by the noise
    (:func:`fit_noise`).
    """
    observed = normalize_percentile(widefield).astype(np.float64)
    predicted = widefield_signal(normalize_percentile(restored), params)
    height = min(observed.shape[0], predicted.shape[0])
    width = min(observed.shape[1], predicted.shape[1])
    observed, predicted = observed[:height, :width], predicted[:height, :width]
    noise = fit_noise(observed)
    fitted = _robust_affine_fit(predicted, observed, noise.variance(predicted))
    difference = fitted - observed
    rse = float(np.sqrt(np.mean(difference**2)))
    rsp = float(np.corrcoef(predicted.ravel(), observed.ravel())[0, 1])
    sd = np.sqrt(
        noise.variance(ndimage.gaussian_filter(observed, smoothing_px))
        * _smoothing_noise_gain(smoothing_px)
    )

    def band(image: np.ndarray) -> np.ndarray:
        """Structure of a centriole's scale, in units of the smoothed noise."""
        smoothed = ndimage.gaussian_filter(image, smoothing_px)
        return (smoothed - _local_median(smoothed, background_px)) / sd

    error_map = band(difference)
    # invented: a feature of the restoration (not the ring left around missing structure)
    # that is brighter than the data allow
    feature = band(fitted)
    invented = (
        (error_map > threshold_sigma)
        & (feature > threshold_sigma)
        & (error_map > unsupported_fraction * feature)
    )
    return Consistency(rse, rsp, error_map.astype(np.float32), invented)


def _local_median(image: np.ndarray, radius_px: float) -> np.ndarray:
    """Median over a (2 radius + 1)-pixel square around each pixel, computed on every second
    pixel and interpolated back (a background varies slowly; 15x faster than in full)."""
    coarse = ndimage.median_filter(image[::2, ::2], size=round(radius_px) | 1, mode="reflect")
    zoom = (image.shape[0] / coarse.shape[0], image.shape[1] / coarse.shape[1])
    return ndimage.zoom(coarse, zoom, order=1, grid_mode=True, mode="nearest")


def _robust_affine_fit(
    predicted: np.ndarray, observed: np.ndarray, variance: np.ndarray, rounds: int = 3
) -> np.ndarray:
    """Gain and offset mapping ``predicted`` onto ``observed``, fitted by least squares weighted
    by the noise (``variance`` per pixel) on the pixels that agree: residuals within 4 robust
    standard deviations, in noise units, so that bright pixels are not dropped for their
    larger Poisson noise and invented structure cannot bend the fit. Returns the mapped
    prediction."""
    sd = np.sqrt(variance)
    keep = np.ones(predicted.shape, bool)
    for _ in range(rounds):
        slope, intercept = np.polyfit(predicted[keep], observed[keep], 1, w=1.0 / sd[keep])
        z = (slope * predicted + intercept - observed) / sd
        centre = np.median(z[keep])
        spread = 1.4826 * np.median(np.abs(z[keep] - centre))
        keep = np.abs(z - centre) <= 4 * max(spread, 1e-12)
    return slope * predicted + intercept


def _smoothing_noise_gain(sigma_px: float) -> float:
    """Variance of unit white noise after a Gaussian filter of ``sigma_px``."""
    return float(np.sum(gaussian_psf(sigma_px) ** 2))


def radial_power_spectrum(patches: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Mean power spectrum of patches (n, y, x) by radial frequency: (cycles per pixel, power).

    Each patch is percentile-normalised, made mean-free and Hann-windowed first, so that
    patches of any brightness weigh alike and the borders add no streaks. Frequencies run
    from 0 to 0.5 cycles per pixel (Nyquist) in steps of 1 / side.
    """
    side = patches.shape[-1]
    window = np.outer(np.hanning(side), np.hanning(side))
    frequency = np.fft.fftfreq(side)
    radius = np.hypot(frequency[:, None], frequency[None, :])
    ring = np.rint(radius * side).astype(int).ravel()
    rings = side // 2 + 1
    power = np.zeros(rings)
    for patch in patches:
        normalized = normalize_percentile(patch).astype(np.float64)
        spectrum = np.abs(np.fft.fft2((normalized - normalized.mean()) * window)) ** 2
        sums = np.bincount(ring, spectrum.ravel(), minlength=rings)[:rings]
        power += sums / np.bincount(ring, minlength=rings)[:rings]
    return np.arange(rings) / side, power / max(len(patches), 1)


def patch_statistics(patches: np.ndarray) -> dict[str, float]:
    """Medians over patches of their background and noise, relative to their signal range.

    background: 10th percentile over the 1-99.8 percentile range (haze lifts it); noise: the
    robust standard deviation of each pixel's difference from its neighbours' mean (scaled
    to white noise's), over the same range.
    """
    backgrounds, noises = [], []
    for patch in patches:
        normalized = normalize_percentile(patch).astype(np.float64)
        residual = neighbour_residual(normalized)
        backgrounds.append(np.percentile(normalized, 10))
        noises.append(1.4826 * np.median(np.abs(residual - np.median(residual))))
    return {
        "background": float(np.median(backgrounds)) if backgrounds else float("nan"),
        "noise": float(np.median(noises)) if noises else float("nan"),
    }


def domain_gap(degraded: np.ndarray, widefield: np.ndarray) -> dict[str, float]:
    """How far degraded confocal patches are from real widefield patches (same pixel size).

    spectral_gap_db: root-mean-square over frequencies (DC excluded) of the difference of
    their mean power spectra in dB: 0 when the degraded patches have the widefield's
    sharpness, haze and noise in the same proportions; each 10 dB is a factor 10 in power.
    Also each set's background and noise (:func:`patch_statistics`).
    """
    if len(degraded) == 0 or len(widefield) == 0:
        raise ValueError(f"need patches of both kinds, got {len(degraded)} and {len(widefield)}")
    _, power_degraded = radial_power_spectrum(degraded)
    _, power_widefield = radial_power_spectrum(widefield)
    ratio_db = 10 * np.log10(power_degraded[1:] / power_widefield[1:])
    stats_degraded, stats_widefield = patch_statistics(degraded), patch_statistics(widefield)
    return {
        "spectral_gap_db": float(np.sqrt(np.mean(ratio_db**2))),
        **{f"degraded_{key}": value for key, value in stats_degraded.items()},
        **{f"widefield_{key}": value for key, value in stats_widefield.items()},
        "degraded_patches": len(degraded),
        "widefield_patches": len(widefield),
    }
