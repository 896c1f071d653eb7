"""Pixel grids of any size ratio: a point stays where it is through degradation and restoration."""

import numpy as np
import pytest
import torch

from centriole_sr import grid
from centriole_sr.degrade import Degradation, block_mean, widefield_signal
from centriole_sr.model import ResidualUNet
from centriole_sr.restore import Restorer
from centriole_sr.settings import Optics
from centriole_sr.stages.degradation import on_working_grid

CONFOCAL_NM = 40.0


def spot(shape, centre_px, sigma_px):
    """A Gaussian spot of the given (y, x) centre on a pixel grid (centres at i + 0.5 - 0.5)."""
    yy, xx = np.mgrid[: shape[0], : shape[1]]
    return np.exp(-((yy - centre_px[0]) ** 2 + (xx - centre_px[1]) ** 2) / (2 * sigma_px**2))


def centroid_nm(image, pixel_nm, near_nm, radius_nm=400.0):
    """The (y, x) centre of mass in nm of the light within ``radius_nm`` of ``near_nm``."""
    yy, xx = (np.mgrid[: image.shape[0], : image.shape[1]] + 0.5) * pixel_nm
    inside = np.hypot(yy - near_nm[0], xx - near_nm[1]) <= radius_nm
    weights = np.clip(image - np.median(image), 0, None) * inside
    return np.array([(weights * yy).sum(), (weights * xx).sum()]) / weights.sum()


def test_area_integration_is_a_block_mean_for_whole_ratios_and_keeps_light_for_any():
    rng = np.random.default_rng(0)
    image = rng.random((60, 60))
    np.testing.assert_allclose(grid.area_mean(image, 3.0), block_mean(image, 3), atol=1e-6)
    coarse = grid.area_mean(image, 2.5)
    assert coarse.shape == (24, 24)
    np.testing.assert_allclose(coarse.mean(), image.mean(), rtol=1e-3)
    np.testing.assert_allclose(grid.area_mean(np.ones((50, 50)), 1.625), 1.0, atol=1e-6)


def test_resampling_keeps_a_spot_where_it_is():
    centre_nm = np.array([1013.0, 987.0])
    image = spot((64, 64), centre_nm / CONFOCAL_NM - 0.5, 2.5)
    for to_nm in (30.0, 37.5, 52.0):
        moved = grid.resample(image, CONFOCAL_NM, to_nm)
        assert moved.shape == (grid.resampled_length(64, CONFOCAL_NM, to_nm),) * 2
        error_nm = centroid_nm(moved, to_nm, centre_nm) - centre_nm
        assert np.abs(error_nm).max() < 0.01 * CONFOCAL_NM
    np.testing.assert_allclose(grid.to_grid_px([0.0, 9.5], 40.0, 100.0), [-0.3, 3.5])


@pytest.mark.parametrize("ratio", [1.5, 2.0, 2.5, 3.0])
def test_a_point_stays_within_0_05_confocal_pixels_through_degradation_and_restoration(ratio):
    """A spot at a physical position, on the confocal grid, degraded to the widefield (through
    the working grid) and restored by the network path (its residual zeroed: the bicubic skip,
    the tiling and the resampling onto the confocal grid), is found where it was."""
    optics = Optics(confocal_pixel_nm=CONFOCAL_NM, widefield_pixel_nm=CONFOCAL_NM * ratio)
    centre_nm = np.array([4811.3, 4687.9])
    confocal = spot((240, 240), centre_nm / CONFOCAL_NM - 0.5, 2.0)
    working, _ = on_working_grid(confocal, np.zeros((0, 2)), CONFOCAL_NM, optics.working_pixel_nm)
    degradation = Degradation(sigma_px=100.0 / optics.working_pixel_nm, scale=optics.scale,
                              haze_fraction=0.0)  # fmt: skip
    widefield = widefield_signal(working, degradation)
    found_nm = centroid_nm(widefield, optics.widefield_pixel_nm, centre_nm, 600.0)
    assert np.abs(found_nm - centre_nm).max() < 0.05 * CONFOCAL_NM

    network = ResidualUNet(scale=optics.scale, base_channels=4, depth=2)
    with torch.no_grad():
        network.tail[-1].weight.zero_()
    card = {
        "scale": optics.scale,
        "widefield_pixel_nm": optics.widefield_pixel_nm,
        "confocal_pixel_nm": CONFOCAL_NM,
        "working_pixel_nm": optics.working_pixel_nm,
    }
    restorer = Restorer(network.eval(), card, "", torch.device("cpu"), tile_px=96)
    restored = restorer.restore(widefield)
    expected = grid.resampled_length(widefield.shape[0], optics.widefield_pixel_nm, CONFOCAL_NM)
    assert restored.shape == (expected, expected)
    found_nm = centroid_nm(restored, CONFOCAL_NM, centre_nm, 600.0)
    assert np.abs(found_nm - centre_nm).max() < 0.05 * CONFOCAL_NM
