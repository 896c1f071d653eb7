import numpy as np
import pytest
from scipy import ndimage

from centriole_sr.noise import fit_noise

RNG_SEED = 0


def test_noise_fit_recovers_poisson_gain_read_noise_and_camera_baseline():
    rng = np.random.default_rng(RNG_SEED)
    intensity = np.tile(np.linspace(5.0, 200.0, 512), (512, 1))
    image = rng.poisson(intensity * 2.0) / 2.0 + rng.normal(0.0, 3.0, intensity.shape)
    noise = fit_noise(image)
    assert noise.gain == pytest.approx(0.5, rel=0.1)  # variance = intensity / 2 + 3**2
    assert noise.offset == pytest.approx(9.0, rel=0.15)
    # a camera baseline of 100 counts: the line's offset goes negative, the floor holds
    camera = fit_noise(image + 100.0)
    assert camera.gain == pytest.approx(0.5, rel=0.1)
    assert camera.offset == pytest.approx(9.0 - 50.0, abs=6.0)
    assert camera.variance(0.0) == camera.floor > 0


def test_noise_fit_is_not_fooled_by_sharp_bright_structure():
    """Bright spots one pixel wide: their curvature is not noise."""
    rng = np.random.default_rng(RNG_SEED)
    spots = np.zeros((512, 512))
    spots[rng.integers(0, 512, 400), rng.integers(0, 512, 400)] = 1.0
    background = np.tile(np.linspace(20.0, 400.0, 512), (512, 1))  # haze: a lever arm
    intensity = background + ndimage.gaussian_filter(spots, 1.0) * 2000
    image = rng.poisson(intensity).astype(float)
    assert fit_noise(image).gain == pytest.approx(1.0, rel=0.15)
