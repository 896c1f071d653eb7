"""The degradation model (model.json): every sigma from its source, the haze, the noise."""

import numpy as np
import pytest
from scipy import ndimage

from centriole_sr import io
from centriole_sr.degrade import Degradation, widefield_signal
from centriole_sr.patches import save_patches
from centriole_sr.psf import Optics, computed_sigma_nm, paraxial_sigma_nm, widefield_haze
from centriole_sr.settings import Degradation as DegradationSettings
from centriole_sr.settings import Reading
from centriole_sr.stages.degradation import degradation_model, fit_beads
from centriole_sr.stages.demo import simulate_beads

OPTICS = Optics()
READING = Reading(channel=None, z_stack="max")
FIXED = {"haze_fraction": 0.3, "haze_sigma_nm": 450.0, "peak_photons": 150.0,
         "read_noise_photons": 2.5}  # fmt: skip


def _degradation(confocal: str, widefield: str, **overrides) -> DegradationSettings:
    sources = {"confocal": confocal, "widefield": widefield}
    return DegradationSettings(
        sigma_source=sources, beads={}, defocus_range_nm=600.0, sample_thickness_nm=3000.0,
        seed=3, **{"fit_sigma": False, **FIXED, **overrides},
    )  # fmt: skip


def _fit_beads(image, modality, table, figure):
    simulate_beads(modality=modality, seed=5 if modality == "confocal" else 2, optics=OPTICS,
                   output=image)  # fmt: skip
    fit_beads(images=[image], modality=modality, optics=OPTICS, table=table, figure=figure)


def test_sigma_from_beads_optics_and_computed_psfs_with_their_sources(tmp_path):
    """The demo's confocal bead image (a 2D plane) goes through the file path; the widefield
    takes the paraxial formula here, then the computed PSF."""
    image, table = tmp_path / "beads.tif", tmp_path / "beads.tsv"
    _fit_beads(image, "confocal", table, tmp_path / "beads.png")
    fits = io.read_table(table)
    assert fits["accepted"].sum() >= 25 and set(fits["image"]) == {"beads"}
    output = tmp_path / "model.json"
    degradation_model(optics=OPTICS, settings=_degradation("beads", "optics"),
                      bead_tables={"confocal": table}, reading=READING, output=output,
                      figure=tmp_path / "fit.png")  # fmt: skip
    sigmas = io.read_json(output)
    in_focus_nm = computed_sigma_nm(OPTICS, "confocal", 0.0)
    # beads fitted over +-3 sigma read the in-focus PSF narrower than the 2.3 um fit (1.5 %)
    assert sigmas["sigma_confocal_nm"] == pytest.approx(in_focus_nm, rel=0.015)
    assert sigmas["sigma_widefield_nm"] == pytest.approx(paraxial_sigma_nm(OPTICS, "widefield"))
    assert sigmas["sigma_sources"]["confocal"]["source"] == "beads"
    assert sigmas["sigma_sources"]["confocal"]["count"] == fits["accepted"].sum()
    assert sigmas["sigma_sources"]["widefield"]["source"] == "optics (paraxial)"
    expected_deg = np.sqrt(sigmas["sigma_widefield_nm"] ** 2 - sigmas["sigma_confocal_nm"] ** 2)
    assert sigmas["sigma_degradation_nm"] == pytest.approx(expected_deg)
    assert sigmas["sigma_degradation_confocal_px"] == pytest.approx(expected_deg / 45.0)
    for key, value in FIXED.items():
        assert sigmas[key] == value and sigmas["parameter_sources"][key] == "config"

    degradation_model(optics=OPTICS, settings=_degradation("computed", "computed"),
                      bead_tables={}, reading=READING, output=output,
                      figure=tmp_path / "fit.png")  # fmt: skip
    computed = io.read_json(output)
    assert computed["sigma_widefield_nm"] == pytest.approx(computed_sigma_nm(OPTICS, "widefield",
                                                                             600.0))  # fmt: skip
    # defocus over the centrioles' depth widens the widefield more than the confocal
    assert computed["sigma_degradation_nm"] > sigmas["sigma_degradation_nm"] + 10


def test_psf_haze_comes_from_the_widefield_psf_and_auto_noise_from_the_fields(tmp_path):
    """Camera data (gain 2, baseline 100) of patches degraded as the model says (paraxial
    blur, no haze) with a known photon budget, over backgrounds that vary from patch to patch."""
    rng = np.random.default_rng(1)
    confocal = np.zeros((100, 64, 64))
    confocal[np.arange(100), rng.integers(24, 40, 100), rng.integers(24, 40, 100)] = 1.0
    confocal = ndimage.gaussian_filter(confocal, (0, 2, 2)) * 100
    photons = 300.0
    sigma_deg_nm = np.sqrt(paraxial_sigma_nm(OPTICS, "widefield") ** 2
                           - paraxial_sigma_nm(OPTICS, "confocal") ** 2)  # fmt: skip
    params = Degradation(sigma_px=sigma_deg_nm / 45.0, scale=2, haze_fraction=0.0)
    signal = [widefield_signal(io.normalize_percentile(p), params) * photons + rng.uniform(5, 60)
              for p in confocal]  # fmt: skip
    camera = np.stack([2.0 * (rng.poisson(s) + rng.normal(0, 2.0, s.shape)) + 100 for s in signal])
    field = np.block([[camera[10 * i + j] for j in range(10)] for i in range(10)])
    io.write_tiff(tmp_path / "wf.tif", field, 90.0)
    save_patches(tmp_path / "wf.npz", patches=camera)
    normalised = np.stack([io.normalize_percentile(p) for p in confocal])
    save_patches(tmp_path / "conf.npz", patches=normalised, field_low=np.float64(0),
                 field_high=np.float64(1))  # fmt: skip
    calibration = {"calibration_fields": [tmp_path / "wf.tif"],
                   "calibration_patches": [tmp_path / "wf.npz"],
                   "confocal_patches": [tmp_path / "conf.npz"]}  # fmt: skip
    degradation = _degradation("optics", "optics", haze_fraction=0.0, haze_sigma_nm="psf",
                               peak_photons="auto", read_noise_photons="auto")  # fmt: skip
    output = tmp_path / "model.json"
    degradation_model(optics=OPTICS, settings=degradation, bead_tables={}, **calibration,
                      reading=READING, output=output, figure=tmp_path / "fit.png")  # fmt: skip
    sigmas = io.read_json(output)
    assert sigmas["peak_photons"] == pytest.approx(photons, rel=0.15)
    assert sigmas["parameter_sources"]["peak_photons"] == "calibrated on widefield wf"
    assert sigmas["haze_sigma_nm"] == pytest.approx(widefield_haze(OPTICS, 3000.0)["haze_sigma_nm"])
    assert sigmas["parameter_sources"]["haze_sigma_nm"] == "widefield PSF over 3000 nm"
    assert sigmas["parameter_sources"]["haze_fraction"] == "config"


def test_auto_noise_without_patches_names_the_settings(tmp_path):
    io.write_tiff(tmp_path / "wf.tif", np.random.default_rng(0).poisson(50, (64, 64)), 90.0)
    save_patches(tmp_path / "wf.npz", patches=np.zeros((0, 32, 32), np.float32))
    save_patches(tmp_path / "conf.npz", patches=np.zeros((0, 64, 64), np.float32),
                 field_low=np.float64(0), field_high=np.float64(1))  # fmt: skip
    calibration = {"calibration_fields": [tmp_path / "wf.tif"],
                   "calibration_patches": [tmp_path / "wf.npz"],
                   "confocal_patches": [tmp_path / "conf.npz"]}  # fmt: skip
    degradation = _degradation("optics", "optics", peak_photons="auto")
    with pytest.raises(io.InputError, match="degradation.peak_photons"):
        degradation_model(optics=OPTICS, settings=degradation, bead_tables={}, **calibration,
                          reading=READING, output=tmp_path / "model.json",
                          figure=tmp_path / "fit.png")  # fmt: skip
    assert not (tmp_path / "model.json").exists()


def test_widefield_bead_stack_is_fitted_in_its_focal_plane(tmp_path):
    """The demo's widefield bead image is a 7-plane z-stack with focus in the middle plane."""
    image, table = tmp_path / "stack.tif", tmp_path / "beads.tsv"
    _fit_beads(image, "widefield", table, tmp_path / "beads.png")
    assert io.read_field(image, 90.0, z_stack="stack")[0].shape == (7, 256, 256)
    fits = io.read_table(table)
    assert (fits["z_plane"] == 3).all() and fits["accepted"].sum() >= 25
    sigma = fits.loc[fits["accepted"], "sigma_nm"].median()
    # over +-3 sigma a bead reads the PSF ~2 % narrower than the fit over 2.3 um (the rings)
    assert sigma == pytest.approx(computed_sigma_nm(OPTICS, "widefield", 0.0), rel=0.03)
