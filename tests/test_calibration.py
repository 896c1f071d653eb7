"""The degradation calibrated on widefield fields: recovered haze, fallbacks, the record."""

import dataclasses

import numpy as np
import pytest
from scipy import ndimage

from centriole_sr import io
from centriole_sr.calibration import calibrate_degradation, centre_windows, radial_mean
from centriole_sr.degrade import Degradation, add_noise, widefield_signal
from centriole_sr.patches import save_patches
from centriole_sr.psf import Optics, paraxial_sigma_nm
from centriole_sr.settings import Degradation as DegradationSettings
from centriole_sr.settings import Reading
from centriole_sr.stages.degradation import degradation_model

TRUE = Degradation(sigma_px=1.2, scale=2, haze_fraction=1.0, haze_sigma_px=24.0,
                   peak_photons=400.0, read_noise_photons=2.0)  # fmt: skip


def _confocal_field(seed: int, size_px: int = 256) -> tuple[np.ndarray, np.ndarray]:
    """Bright spots (centrioles) on a smooth cytoplasm, and the spots' centres."""
    rng = np.random.default_rng(seed)
    centres = rng.integers(30, size_px - 30, size=(20, 2))
    field = ndimage.gaussian_filter(rng.standard_normal((size_px, size_px)), 30) * 3 + 0.15
    spots = np.zeros((size_px, size_px))
    spots[centres[:, 0], centres[:, 1]] = 60.0
    field = np.clip(field, 0, None) + ndimage.gaussian_filter(spots, 1.5)
    return io.normalize_percentile(field.astype(np.float32)), centres.astype(float)


def _widefield(seed: int) -> tuple[np.ndarray, np.ndarray]:
    """A camera frame of another sample made by the true degradation (gain 2, baseline 100)."""
    target, centres = _confocal_field(seed)
    photons = widefield_signal(target, TRUE) * TRUE.peak_photons
    frame = add_noise(photons, TRUE, np.random.default_rng(seed)) * 2.0 + 100.0
    return frame, (centres + 0.5) / 2 - 0.5


def test_the_haze_of_the_widefield_is_recovered():
    """Other samples than the widefield's, as in a real run: the haze comes back within the
    samples' own variation (0.75-1.5 over seeds here; exact on the same samples)."""
    confocal = [_confocal_field(seed) for seed in (1, 2, 3, 4)]
    widefield = [_widefield(seed) for seed in (11, 12, 13, 14)]
    start = dataclasses.replace(TRUE, haze_fraction=4.0, haze_sigma_px=12.0, sigma_px=1.2 / 1.15)
    fitted = calibrate_degradation(confocal, widefield, start, widefield_pixel_nm=90.0)
    assert fitted.degradation.haze_fraction == pytest.approx(1.0, abs=0.5)
    assert fitted.cost < 0.3 * fitted.cost_before
    same = calibrate_degradation([_confocal_field(11)], [_widefield(11)], start, 90.0)
    assert same.degradation == TRUE  # 24 px and 1.2 px: the tops of the width and blur ranges
    assert same.at_edge == ("haze_sigma", "sigma")
    hazier = calibrate_degradation([_confocal_field(11)], [_widefield(11)], start, 90.0,
                                   haze_fractions=(0.0, 0.25, 0.5))  # fmt: skip
    assert hazier.degradation.haze_fraction == 0.5 and "haze_fraction" in hazier.at_edge
    assert np.abs(fitted.after.profile - fitted.widefield.profile).max() < 0.05
    assert np.abs(fitted.before.profile - fitted.widefield.profile).max() > 0.05


def test_windows_are_centred_on_the_nearby_maximum_and_skip_the_border():
    image = np.zeros((40, 40))
    image[20, 21] = 1.0
    windows = centre_windows(image, np.array([[19.0, 20.0], [2.0, 2.0]]), radius_px=5)
    assert windows.shape == (1, 11, 11) and windows[0, 5, 5] == 1.0
    profile = radial_mean(windows[0])
    assert profile[0] == 1.0 and profile[1:].max() == 0.0


def _settings(**overrides) -> DegradationSettings:
    values = {"sigma_source": {"confocal": "optics", "widefield": "optics"}, "beads": {},
              "defocus_range_nm": 600.0, "sample_thickness_nm": 3000.0, "haze_fraction": "auto",
              "haze_sigma_nm": "auto", "fit_sigma": True, "peak_photons": 400.0,
              "read_noise_photons": 2.0, "seed": 3}  # fmt: skip
    return DegradationSettings(**{**values, **overrides})


def _calibration_files(tmp_path, widefield_picks: int) -> dict:
    """One confocal and one widefield field with their patch files (centres = picks)."""
    target, centres = _confocal_field(1)
    frame, wf_centres = _widefield(11)
    io.write_tiff(tmp_path / "conf.tif", target * 1000, 45.0)
    io.write_tiff(tmp_path / "wf.tif", frame, 90.0)
    save_patches(
        tmp_path / "conf.npz",
        patches=np.zeros((len(centres), 8, 8)),
        centres_yx_px=centres,
        field_low=np.float64(0),
        field_high=np.float64(1000),
    )
    save_patches(tmp_path / "wf.npz", patches=np.zeros((widefield_picks, 4, 4)),
                 centres_yx_px=wf_centres[:widefield_picks])  # fmt: skip
    return {"confocal_fields": [tmp_path / "conf.tif"],
            "confocal_patches": [tmp_path / "conf.npz"],
            "calibration_fields": [tmp_path / "wf.tif"],
            "calibration_patches": [tmp_path / "wf.npz"]}  # fmt: skip


def test_model_json_records_every_fitted_value_and_its_source(tmp_path):
    output, figure = tmp_path / "model.json", tmp_path / "fit.png"
    degradation_model(optics=Optics(), settings=_settings(), bead_tables={},
                      reading=Reading(channel=None, z_stack="max"), output=output,
                      figure=figure, **_calibration_files(tmp_path, 20))  # fmt: skip
    model = io.read_json(output)
    assert model["calibration"]["status"] == "calibrated"
    assert model["calibration"]["mismatch_after"] < model["calibration"]["mismatch_before"]
    for key in ("haze_fraction", "haze_sigma_nm"):
        assert model["parameter_sources"][key] == "fitted on widefield wf"
    assert "widefield sigma fitted on widefield wf" in model["source"]
    paraxial_nm = np.sqrt(paraxial_sigma_nm(Optics(), "widefield") ** 2
                          - paraxial_sigma_nm(Optics(), "confocal") ** 2)  # fmt: skip
    fitted_nm = model["calibration"]["sigma_factor"] * paraxial_nm
    assert model["sigma_degradation_nm"] == pytest.approx(fitted_nm)
    assert model["sigma_degradation_confocal_px"] == pytest.approx(fitted_nm / 45.0)
    assert figure.stat().st_size > 10_000


def test_too_few_widefield_picks_fall_back_to_the_psf_and_say_so(tmp_path, caplog):
    output, log = tmp_path / "model.json", tmp_path / "model.log"
    degradation_model(optics=Optics(), settings=_settings(), bead_tables={},
                      reading=Reading(channel=None, z_stack="max"), output=output,
                      figure=tmp_path / "fit.png", log=log,
                      **_calibration_files(tmp_path, 2))  # fmt: skip
    model = io.read_json(output)
    assert model["calibration"]["status"] == "not calibrated"
    assert "2 widefield picks" in model["calibration"]["reason"]
    assert "widefield PSF" in model["calibration"]["reason"]
    assert model["parameter_sources"]["haze_fraction"] == "widefield PSF over 3000 nm"
    assert "degradation not calibrated: 2 widefield picks" in log.read_text()
