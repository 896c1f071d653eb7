import time
from dataclasses import replace

import numpy as np
import pandas as pd
import pytest
from scipy import ndimage

from centriole_sr.degrade import block_mean
from centriole_sr.io import InputError
from centriole_sr.psf import Optics, computed_psf, fit_gaussian_sigma_nm
from centriole_sr.simulate import (
    DemoParams,
    camera_electrons,
    demo_labels,
    emitter_volume,
    image_volume,
    nm_to_px,
    px_to_nm,
    sample_grid,
    simulate_field,
    truth_table,
)

OPTICS = Optics()
SMALL = DemoParams(field_size_px=256, centrioles_per_field=6, clutter_per_field=3)


@pytest.fixture(scope="module")
def field():
    start = time.perf_counter()
    result = simulate_field(OPTICS, SMALL, seed=1)
    return result, time.perf_counter() - start


def test_small_field_shapes_types_and_runtime(field):
    result, seconds = field
    assert result.confocal.shape == result.confocal_clean.shape == (256, 256)
    assert result.widefield.shape == (128, 128)
    for image in (result.confocal, result.confocal_clean, result.widefield):
        assert image.dtype == np.float32 and np.all(np.isfinite(image))
    assert seconds < 10.0  # a 1024^2 field takes ~4 s on 2 cores


def test_deterministic_for_a_seed(field):
    again = simulate_field(OPTICS, SMALL, seed=1)
    np.testing.assert_array_equal(again.confocal, field[0].confocal)
    np.testing.assert_array_equal(again.widefield, field[0].widefield)
    pd.testing.assert_frame_equal(again.centres, field[0].centres)
    other = simulate_field(OPTICS, SMALL, seed=2)
    assert not np.allclose(other.centres[["y_nm", "x_nm"]], field[0].centres[["y_nm", "x_nm"]])


def test_number_and_placement_of_centres(field):
    centres = field[0].centres
    assert list(centres.columns) == ["y_nm", "x_nm", "z_nm", "kind", "shape", "brightness"]
    targets = centres[centres["kind"] == "centriole"]
    clutter = centres[centres["kind"] == "clutter"]
    assert len(targets) == 6 and len(clutter) == 3
    field_nm = SMALL.field_size_px * OPTICS.confocal_pixel_nm
    yx = centres[["y_nm", "x_nm"]].to_numpy()
    assert yx.min() >= SMALL.border_margin_nm and yx.max() <= field_nm - SMALL.border_margin_nm
    distances = np.hypot(*(yx[:, None] - yx[None]).transpose(2, 0, 1))
    assert distances[np.triu_indices(len(yx), 1)].min() >= SMALL.min_separation_nm
    assert targets["z_nm"].abs().max() <= SMALL.centriole_z_range_nm / 2
    assert clutter["z_nm"].abs().max() <= SMALL.clutter_z_range_nm / 2
    assert set(targets["shape"]) <= {"single", "pair"} and set(clutter["shape"]) <= {
        "blob",
        "speck",
    }
    low, high = SMALL.brightness_range
    assert targets["brightness"].between(low, high).all()


def test_photon_scales(field):
    result = field[0]
    peak = _median_target_peak(result.confocal_clean, result.centres, OPTICS.confocal_pixel_nm)
    background = np.median(result.confocal_clean)
    # The median target peak (with background) is confocal_photons plus a little background.
    assert SMALL.confocal_photons <= peak <= 1.5 * SMALL.confocal_photons
    assert 0.02 * SMALL.confocal_photons < background < 0.3 * SMALL.confocal_photons
    noise = result.confocal - result.confocal_clean
    assert np.std(noise) == pytest.approx(np.sqrt(background + 1.0), rel=0.2)


def _median_target_peak(image: np.ndarray, centres: pd.DataFrame, pixel_nm: float) -> float:
    half = round(400 / pixel_nm)
    truth = truth_table(centres, pixel_nm).round().astype(int)
    return float(
        np.median(
            [
                image[y - half : y + half + 1, x - half : x + half + 1].max()
                for y, x in truth[["y_px", "x_px"]].to_numpy()
            ]
        )
    )


def test_widefield_is_hazier_than_confocal(field):
    # Background relative to the centrioles: ~0.09 in confocal, ~0.33 in widefield (measured),
    # because the widefield collects the whole cell's thickness of cytoplasm.
    result = field[0]
    widefield = result.widefield - SMALL.widefield_offset
    haze = {
        modality: np.median(image) / _median_target_peak(image, result.centres, pixel_nm)
        for modality, image, pixel_nm in (
            ("confocal", result.confocal_clean, OPTICS.confocal_pixel_nm),
            ("widefield", widefield, OPTICS.widefield_pixel_nm),
        )
    }
    assert haze["widefield"] > 2.5 * haze["confocal"]


def test_centrioles_are_sharper_in_confocal(field):
    result = field[0]
    widths = {}
    for modality, image, pixel_nm, half in (
        ("confocal", result.confocal_clean, OPTICS.confocal_pixel_nm, 16),
        ("widefield", result.widefield, OPTICS.widefield_pixel_nm, 8),
    ):
        truth = truth_table(result.centres, pixel_nm).round().astype(int)
        widths[modality] = np.median(
            [
                fit_gaussian_sigma_nm(
                    image[y - half : y + half + 1, x - half : x + half + 1], pixel_nm
                )
                for y, x in truth[["y_px", "x_px"]].to_numpy()
            ]
        )
    assert widths["widefield"] > 1.1 * widths["confocal"]


def _image_point(z_nm: float, y_nm: float, x_nm: float) -> tuple[np.ndarray, np.ndarray]:
    params = replace(SMALL, field_size_px=256)
    grid = sample_grid(OPTICS, params)
    psfs = [
        computed_psf(OPTICS, modality, grid.pixel_nm, 2 * grid.margin_px + 1, grid.z_nm)
        for modality in ("confocal", "widefield")
    ]
    volume = emitter_volume(np.array([[z_nm, y_nm, x_nm]]), np.ones(1), grid)
    confocal, widefield = image_volume(volume, psfs, grid)
    return confocal, block_mean(widefield, OPTICS.scale) * OPTICS.scale**2


def test_a_point_appears_where_it_is_in_both_modalities():
    y_nm, x_nm = 5123.4, 6071.9
    confocal, widefield = _image_point(0.0, y_nm, x_nm)
    for image, pixel_nm in ((confocal, OPTICS.confocal_pixel_nm), (widefield, 90.0)):
        expected = (nm_to_px(y_nm, pixel_nm), nm_to_px(x_nm, pixel_nm))
        assert ndimage.center_of_mass(image) == pytest.approx(expected, abs=0.1)
    # Same flux in both (the widefield camera integrates, it does not average).
    assert widefield.sum() == pytest.approx(confocal.sum(), rel=0.02)
    assert fit_gaussian_sigma_nm(widefield, 90.0) > 1.1 * fit_gaussian_sigma_nm(confocal, 45.0)


def test_out_of_focus_light_reaches_the_widefield_only():
    in_focus = _image_point(0.0, 5760.0, 5760.0)
    defocused = _image_point(1000.0, 5760.0, 5760.0)
    confocal_ratio = defocused[0].sum() / in_focus[0].sum()
    widefield_ratio = defocused[1].sum() / in_focus[1].sum()
    assert widefield_ratio > 0.97 and confocal_ratio < 0.05
    # Spread over micrometres: the defocused widefield peak is a small fraction of the focus one.
    assert defocused[1].max() < 0.05 * in_focus[1].max()


def test_pixel_geometry_helpers():
    assert nm_to_px(0.0, 45.0) == -0.5 and nm_to_px(22.5, 45.0) == 0.0
    assert px_to_nm(nm_to_px(1234.5, 45.0), 45.0) == pytest.approx(1234.5)
    # Widefield pixel j covers confocal pixels 2j and 2j + 1: its centre is their mean.
    j = np.arange(5)
    assert np.allclose(px_to_nm(j, 90.0), (px_to_nm(2 * j, 45.0) + px_to_nm(2 * j + 1, 45.0)) / 2)


def test_truth_table_holds_centrioles_in_modality_pixels(field):
    centres = field[0].centres
    targets = centres[centres["kind"] == "centriole"]
    for pixel_nm in (45.0, 90.0):
        truth = truth_table(centres, pixel_nm)
        assert list(truth.columns) == ["y_px", "x_px"] and len(truth) == len(targets)
        np.testing.assert_allclose(truth["x_px"], targets["x_nm"] / pixel_nm - 0.5)


def test_demo_labels_are_a_sparse_subset_in_each_modality(field):
    centres = field[0].centres
    fields = {"field00": centres, "field01": centres.iloc[::-1].reset_index(drop=True)}
    labels = demo_labels(fields, ["field00"], 4, OPTICS, seed=3)
    assert list(labels.columns) == ["field", "modality", "x_px", "y_px"]
    assert set(labels["field"]) == {"field00"}
    confocal = labels[labels["modality"] == "confocal"].reset_index(drop=True)
    widefield = labels[labels["modality"] == "widefield"].reset_index(drop=True)
    assert len(confocal) == len(widefield) == 4
    truth = truth_table(centres, 45.0)
    for y, x in confocal[["y_px", "x_px"]].to_numpy():
        assert np.min(np.hypot(truth["y_px"] - y, truth["x_px"] - x)) < 1e-9
    np.testing.assert_allclose(widefield["x_px"], (confocal["x_px"] + 0.5) / 2 - 0.5)
    pd.testing.assert_frame_equal(labels, demo_labels(fields, ["field00"], 4, OPTICS, seed=3))
    many = demo_labels(fields, ["field00", "field01"], 100, OPTICS, seed=3)
    assert len(many) == 2 * 2 * 6  # capped at the targets of each field


def test_bad_demo_settings_name_the_key():
    with pytest.raises(InputError, match="demo.field_size_px"):
        simulate_field(OPTICS, replace(SMALL, field_size_px=255), seed=0)
    with pytest.raises(InputError, match="demo.centrioles_per_field"):
        simulate_field(OPTICS, replace(SMALL, field_size_px=64, centrioles_per_field=20), seed=0)
    with pytest.raises(InputError, match="demo.centrioles_per_field"):
        DemoParams(centrioles_per_field=0)
    with pytest.raises(InputError, match=r"demo.centrioles_per_field .*\[low, high\]"):
        DemoParams(centrioles_per_field=(3, 1))


def test_a_count_range_draws_each_fields_centrioles_within_it():
    cropped = replace(SMALL, field_size_px=128, centrioles_per_field=[1, 3], clutter_per_field=1)
    counts = [
        (simulate_field(OPTICS, cropped, seed=seed).centres["kind"] == "centriole").sum()
        for seed in range(6)
    ]
    assert set(counts) <= {1, 2, 3} and len(set(counts)) > 1


def test_emccd_doubles_the_shot_noise_variance_and_keeps_the_mean():
    rng = np.random.default_rng(0)
    photons = np.full(200_000, 30.0)
    scmos = camera_electrons(photons, "scmos", rng)
    emccd = camera_electrons(photons, "emccd", rng)
    assert emccd.mean() == pytest.approx(scmos.mean(), rel=0.01)
    assert emccd.var() / scmos.var() == pytest.approx(2.0, rel=0.03)


def test_an_unknown_camera_is_refused_naming_the_key():
    with pytest.raises(InputError, match="demo.widefield_camera"):
        DemoParams(widefield_camera="ccd")


def test_a_thin_cell_keeps_every_object_inside_it():
    """A 600 nm cell (planes at -200, 0, 200 nm) holds neither a 1.2 um blob nor a 500 nm
    barrel standing upright: they are flattened into it."""
    params = DemoParams(field_size_px=192, centrioles_per_field=6, clutter_per_field=6,
                        sample_thickness_nm=600.0, min_separation_nm=800.0)  # fmt: skip
    field = simulate_field(OPTICS, params, seed=3)
    assert (field.centres["z_nm"].abs() <= 200.0).all()
    assert (field.centres["shape"] == "blob").any()
