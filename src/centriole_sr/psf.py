"""Point spread functions: paraxial Gaussian widths and computed 3D PSFs of both microscopes.

Gaussian widths follow Zhang, Zerubia and Olivo-Marin, Applied Optics 46:1819 (2007), paraxial,
lateral. Computed PSFs come from psfmodels (vectorial model of Aguet et al. 2009). Lengths are
in nm throughout; psfmodels takes microns, converted in `computed_psf` only.
"""

from __future__ import annotations

import math
from typing import Any, Literal

import numpy as np
import psfmodels
from scipy import optimize, signal, special

from centriole_sr.io import InputError
from centriole_sr.settings import Optics

__all__ = ["Optics"]  # the optics section's class, where the formulas that use it live

# Below this normalised pinhole radius c2 = k_em r NA the exact formula loses digits to
# cancellation (relative error ~ 1e-16 / c2**2) while the r -> 0 limit is off by ~c2**2.
_SMALL_PINHOLE = 1e-4


def airy_unit_nm(emission_nm: float, numerical_aperture: float) -> float:
    """Diameter of the Airy disk (first zero to first zero), 1.22 lambda_em / NA."""
    return 1.22 * emission_nm / numerical_aperture


def sigma_widefield_nm(emission_nm: float, numerical_aperture: float) -> float:
    """Lateral Gaussian sigma of the widefield PSF, sqrt(2) / (k_em NA)."""
    k_em = 2 * math.pi / emission_nm
    return math.sqrt(2) / (k_em * numerical_aperture)


def sigma_confocal_nm(
    excitation_nm: float, emission_nm: float, numerical_aperture: float, pinhole_airy_units: float
) -> float:
    """Lateral Gaussian sigma of the confocal PSF with a pinhole of that many Airy units.

    The pinhole radius back-projected to the sample is r = pinhole_airy_units * 1.22 lambda_em
    / (2 NA). For r -> 0 the formula tends to sqrt(2) / (NA sqrt(k_ex^2 + k_em^2)), used when
    k_em r NA < 1e-4 (where the two differ by < 1e-8 relative).
    """
    k_ex = 2 * math.pi / excitation_nm
    k_em = 2 * math.pi / emission_nm
    na = numerical_aperture
    r = pinhole_airy_units * airy_unit_nm(emission_nm, na) / 2
    c1, c2 = k_ex * r * na, k_em * r * na
    if c2 < _SMALL_PINHOLE:
        return math.sqrt(2) / (na * math.hypot(k_ex, k_em))
    j0, j1 = special.j0(c2), special.j1(c2)
    emission_term = (4 * c2 * j0 * j1 - 8 * j1**2) / (r**2 * (j0**2 + j1**2 - 1))
    return math.sqrt(2) / math.sqrt(c1**2 / r**2 + emission_term)


def sigma_degradation_nm(sigma_widefield_nm: float, sigma_confocal_nm: float) -> float:
    """Gaussian sigma that blurs the confocal PSF into the widefield one, sqrt(wf^2 - conf^2)."""
    if sigma_confocal_nm >= sigma_widefield_nm:
        raise InputError(
            f"the confocal PSF (sigma {sigma_confocal_nm:.1f} nm) is not sharper than the "
            f"widefield PSF (sigma {sigma_widefield_nm:.1f} nm): nothing to learn; check "
            "optics.pinhole_airy_units, optics.excitation_nm and optics.emission_nm"
        )
    return math.sqrt(sigma_widefield_nm**2 - sigma_confocal_nm**2)


def sigma_table(
    optics: Optics, sigma_wf_nm: float, sigma_conf_nm: float, source: str
) -> dict[str, Any]:
    """Every sigma in nm and in pixels of both sizes and of the working grid (the network's
    output grid, :mod:`centriole_sr.grid`), ready for JSON; ``source`` says whence."""
    deg = sigma_degradation_nm(sigma_wf_nm, sigma_conf_nm)
    px = optics.confocal_pixel_nm
    return {
        "source": source,
        "scale": optics.scale,
        "pixel_ratio": optics.pixel_ratio,
        "working_pixel_nm": optics.working_pixel_nm,
        "sigma_degradation_working_px": deg / optics.working_pixel_nm,
        "sigma_widefield_nm": sigma_wf_nm,
        "sigma_confocal_nm": sigma_conf_nm,
        "sigma_degradation_nm": deg,
        "sigma_widefield_confocal_px": sigma_wf_nm / px,
        "sigma_confocal_confocal_px": sigma_conf_nm / px,
        "sigma_degradation_confocal_px": deg / px,
        "sigma_widefield_widefield_px": sigma_wf_nm / optics.widefield_pixel_nm,
        "sigma_confocal_widefield_px": sigma_conf_nm / optics.widefield_pixel_nm,
        "sigma_degradation_widefield_px": deg / optics.widefield_pixel_nm,
    }


def optics_sigmas(optics: Optics) -> dict[str, Any]:
    """Every Gaussian sigma of the paraxial approximations of the optics (Zhang et al.)."""
    wf, conf = (paraxial_sigma_nm(optics, m) for m in ("widefield", "confocal"))
    return sigma_table(optics, wf, conf, "optics")


def computed_sigma_nm(
    optics: Optics,
    modality: Literal["widefield", "confocal"],
    defocus_range_nm: float,
    z_step_nm: float = 100.0,
) -> float:
    """Sigma of a Gaussian fitted to one microscope's vectorial PSF averaged over focus
    positions spanning ``defocus_range_nm`` around the focal plane (0: the in-focus fit).

    Objects above and below focus are imaged through a defocused PSF, which spreads the
    widefield image more than the confocal one. The PSFs are sampled at 15 nm over 2.3 um,
    finer and wider than any camera pixel and blur.
    """
    if defocus_range_nm < 0:
        raise InputError(f"defocus range must be >= 0 nm, got {defocus_range_nm}")
    planes = max(int(round(defocus_range_nm / z_step_nm)) + 1, 1)
    z_nm = np.linspace(-defocus_range_nm / 2, defocus_range_nm / 2, planes)
    pixel_nm, size_px = 15.0, 151
    psf = computed_psf(optics, modality, pixel_nm, size_px, z_nm).mean(0)
    return fit_gaussian_sigma_nm(psf, pixel_nm)


def computed_sigmas(optics: Optics, defocus_range_nm: float) -> dict[str, Any]:
    """Every sigma, from Gaussians fitted to both microscopes' PSFs (`computed_sigma_nm`)."""
    wf, conf = (computed_sigma_nm(optics, m, defocus_range_nm) for m in ("widefield", "confocal"))
    return sigma_table(optics, wf, conf, f"computed PSFs, defocus range {defocus_range_nm:g} nm")


def paraxial_sigma_nm(optics: Optics, modality: Literal["widefield", "confocal"]) -> float:
    """Sigma of one microscope's paraxial Gaussian approximation (Zhang et al.)."""
    if modality == "widefield":
        return sigma_widefield_nm(optics.emission_nm, optics.numerical_aperture)
    return sigma_confocal_nm(
        optics.excitation_nm,
        optics.emission_nm,
        optics.numerical_aperture,
        optics.pinhole_airy_units,
    )


def widefield_haze(
    optics: Optics, thickness_nm: float, z_step_nm: float = 200.0
) -> dict[str, float]:
    """Out-of-focus light of the widefield: a narrow plus a wide Gaussian fitted to its PSF
    averaged over a sample ``thickness_nm`` thick, centred on focus.

    Returns the core and haze sigmas (nm) and ``haze_fraction``, the wide Gaussian's energy
    over the narrow one's: the degradation's haze term (``haze_fraction`` times the signal
    blurred by the haze sigma). A point in focus has some haze already (the Airy rings);
    each micron of sample above and below adds much more.
    """
    if thickness_nm < 0:
        raise InputError(f"sample thickness must be >= 0 nm, got {thickness_nm}")
    planes = max(int(round(thickness_nm / z_step_nm)) + 1, 1)
    z_nm = np.linspace(-thickness_nm / 2, thickness_nm / 2, planes)
    pixel_nm, size_px = 45.0, 179  # 8 um: holds the haze of a few microns of defocus
    psf = computed_psf(optics, "widefield", pixel_nm, size_px, z_nm).mean(0).astype(float)
    yy, xx = np.indices(psf.shape) - size_px // 2
    radius2_nm2 = (yy**2 + xx**2) * pixel_nm**2

    def residual(params: np.ndarray) -> np.ndarray:
        core, core_sigma, haze, haze_sigma = params
        model = core * np.exp(-radius2_nm2 / (2 * core_sigma**2))
        return (model + haze * np.exp(-radius2_nm2 / (2 * haze_sigma**2)) - psf).ravel()

    start = [psf.max(), 90.0, psf.max() / 50, 600.0]
    bounds = ([0.0, 20.0, 0.0, 150.0], [np.inf, 500.0, np.inf, 4000.0])
    core, core_sigma, haze, haze_sigma = optimize.least_squares(residual, start, bounds=bounds).x
    return {
        "core_sigma_nm": float(core_sigma),
        "haze_sigma_nm": float(haze_sigma),
        "haze_fraction": float(haze * haze_sigma**2 / (core * core_sigma**2)),
    }


def computed_psf(
    optics: Optics,
    modality: Literal["widefield", "confocal"],
    pixel_nm: float,
    size_px: int,
    z_nm: np.ndarray,
) -> np.ndarray:
    """Vectorial 3D PSF (z, y, x) of one microscope, centred on pixel size_px // 2 of each plane.

    ``z_nm`` is the defocus of the point source from the focal plane. The sample index is set to
    the immersion index (index-matched mounting such as ProLong Glass, n = 1.52): the PSF then has
    no depth-dependent spherical aberration, which the shift-invariant imaging model of the demo
    (a sum of per-plane 2D convolutions) requires.

    Normalisation: psfmodels' ``normalize=True`` divides the whole stack by its global maximum
    (one number, so ratios between planes survive, but the in-focus plane sums to an arbitrary
    value). Here the raw stack is divided by the sum of its in-focus plane instead: an in-focus
    point emitting 1 gives 1 in the image, a widefield plane sums to ~1 at any defocus (energy
    conservation, up to what falls outside the window) and a confocal plane sums to its optical
    sectioning factor.

    The confocal PSF is excitation PSF x (emission PSF * pinhole disk), as in
    ``psfmodels.confocal_psf`` (pinhole radius 0.61 lambda_em / NA per Airy unit); the pinhole
    convolution is done by FFT here because psfmodels convolves directly with a size_px^2 kernel
    (O(size_px^4): 27 s for 179 x 179 x 15 against 0.01 s).
    """
    if modality not in ("widefield", "confocal"):
        raise ValueError(f"modality must be 'widefield' or 'confocal', got {modality!r}")
    if size_px < 1 or size_px % 2 == 0:
        raise ValueError(f"size_px must be odd so the PSF has a centre pixel, got {size_px}")
    z_um = np.concatenate([[0.0], np.asarray(z_nm, dtype=float).ravel() / 1000.0])
    index = optics.refractive_index
    common = {
        "nx": size_px,
        "dxy": pixel_nm / 1000.0,
        "NA": optics.numerical_aperture,
        "ns": index,
        "ni": index,
        "ni0": index,
        "normalize": False,
        "model": "vectorial",
    }
    stack = psfmodels.make_psf(z_um, wvl=optics.emission_nm / 1000.0, **common)
    if modality == "confocal":
        radius_px = optics.pinhole_airy_units * 0.61 * optics.emission_nm
        radius_px /= optics.numerical_aperture * pixel_nm
        half = int(radius_px)
        yy, xx = np.mgrid[-half : half + 1, -half : half + 1]
        pinhole = (np.hypot(yy, xx) <= radius_px).astype(float)
        stack = signal.fftconvolve(stack, pinhole[None], mode="same", axes=(1, 2))
        stack *= psfmodels.make_psf(z_um, wvl=optics.excitation_nm / 1000.0, **common)
    stack = np.clip(stack, 0.0, None)  # FFT round-off only
    return (stack[1:] / stack[0].sum()).astype(np.float32)


def _gaussian_2d(
    yx: tuple[np.ndarray, np.ndarray],
    amplitude: float,
    y0: float,
    x0: float,
    sigma: float,
    base: float,
) -> np.ndarray:
    y, x = yx
    return amplitude * np.exp(-((y - y0) ** 2 + (x - x0) ** 2) / (2 * sigma**2)) + base


def fit_gaussian_sigma_nm(psf_2d: np.ndarray, pixel_nm: float) -> float:
    """Sigma (nm) of an isotropic 2D Gaussian plus constant fitted by least squares to an image."""
    image = np.asarray(psf_2d, dtype=float)
    y, x = np.indices(image.shape)
    y0, x0 = np.unravel_index(np.argmax(image), image.shape)
    base = float(np.median(image))
    p0 = (float(image.max()) - base, float(y0), float(x0), 2.0, base)
    params, _ = optimize.curve_fit(_gaussian_2d, (y.ravel(), x.ravel()), image.ravel(), p0=p0)
    return abs(float(params[3])) * pixel_nm
