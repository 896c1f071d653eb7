import math
import time

import numpy as np
import pytest
from scipy.spatial import cKDTree

from centriole_sr.beads import bead_sigma_nm, fit_beads, gaussian_spot
from centriole_sr.io import InputError
from centriole_sr.psf import Optics, computed_psf, fit_gaussian_sigma_nm, optics_sigmas
from centriole_sr.simulate import px_to_nm, simulate_beads

OPTICS = Optics()
SIGMAS = optics_sigmas(OPTICS)
# modality: (pixel nm, paraxial sigma as the fit's guess, camera pixels integrate light)
SETUP = {
    "widefield": (OPTICS.widefield_pixel_nm, SIGMAS["sigma_widefield_nm"], True),
    "confocal": (OPTICS.confocal_pixel_nm, SIGMAS["sigma_confocal_nm"], False),
}


def fit(image, modality, **kwargs):
    pixel_nm, guess_nm, integrated = SETUP[modality]
    return fit_beads(
        image, pixel_nm, sigma_guess_nm=guess_nm, pixel_integrated=integrated, **kwargs
    )


def reference_sigma_nm(modality: str) -> float:
    """A Gaussian fitted to the in-focus computed PSF, sampled finely (5 nm), over the same
    extent around the bead as fit_beads' window: ceil(3 sigma) pixels either side of the
    bead, plus half a pixel for a camera's pixels (they integrate out to their edges).

    The PSF is not a Gaussian: its fitted sigma changes with the window (widefield 85.0 nm
    at +-292 nm, 84.8 at +-315, 86.4 at +-1.5 um), so the reference uses the same one.
    """
    pixel_nm, guess_nm, integrated = SETUP[modality]
    half_px = math.ceil(3 * guess_nm / pixel_nm)
    reach_nm = (half_px + (0.5 if integrated else 0.0)) * pixel_nm
    fine_nm, size = 5.0, 2 * round(reach_nm / 5.0) + 1
    psf = computed_psf(OPTICS, modality, fine_nm, size, np.zeros(1))[0]
    return fit_gaussian_sigma_nm(psf, fine_nm)


@pytest.mark.parametrize("integrated", [False, True])
def test_a_known_gaussian_is_recovered(integrated):
    image = gaussian_spot((41, 41), 3.0, 19.3, 21.6, 2.7, 0.5, pixel_integrated=integrated)
    table = fit_beads(image, 20.0, sigma_guess_nm=40.0, pixel_integrated=integrated)
    assert len(table) == 1 and table["accepted"].all()
    row = table.iloc[0]
    assert row["sigma_nm"] == pytest.approx(54.0, rel=1e-5)
    assert row["y_px"] == pytest.approx(19.3, abs=1e-4)
    assert row["x_px"] == pytest.approx(21.6, abs=1e-4)
    assert row["amplitude"] == pytest.approx(3.0, rel=1e-5)
    assert row["background"] == pytest.approx(0.5, abs=1e-5)
    assert row["y_nm"] == pytest.approx(float(px_to_nm(19.3, 20.0)), abs=1e-2)
    assert row["r2"] == pytest.approx(1.0, abs=1e-9)


def test_a_camera_pixel_model_matters_for_the_widefield():
    # A point-sampled Gaussian fitted to camera pixels is wider by ~pixel^2 / 12 in variance.
    image = gaussian_spot((31, 31), 100.0, 15.2, 14.7, 0.93, 1.0, pixel_integrated=True)
    point = fit_beads(image, 90.0, sigma_guess_nm=84.0, pixel_integrated=False)
    camera = fit_beads(image, 90.0, sigma_guess_nm=84.0, pixel_integrated=True)
    assert camera["sigma_nm"].iloc[0] == pytest.approx(0.93 * 90, rel=1e-5)
    assert point["sigma_nm"].iloc[0] == pytest.approx(math.hypot(0.93 * 90, 90 / 12**0.5), rel=0.01)


@pytest.mark.parametrize("modality", ["widefield", "confocal"])
def test_simulated_beads_give_the_computed_psf_sigma_and_true_centres(modality):
    pixel_nm = SETUP[modality][0]
    start = time.perf_counter()
    image, truth = simulate_beads(OPTICS, modality, pixel_nm, 256, 30, seed=2, peak_photons=1000)
    assert time.perf_counter() - start < 1.0  # ~0.05 s
    assert image.shape == (256, 256) and image.dtype == np.float32
    table = fit(image, modality)
    accepted = table[table["accepted"]]
    assert len(accepted) >= 0.9 * len(truth)
    # 1.5 %: measured -0.4 % (widefield) and +1.0 % (confocal); the simulator samples the
    # PSF at 45 nm, where psfmodels gives sigmas ~1 nm wider than at 5 nm, and the demo's
    # camera averages 2 x 2 point samples rather than integrating (-0.5 nm).
    sigma = bead_sigma_nm(table, f"demo {modality} beads")
    assert sigma["sigma_nm"] == pytest.approx(reference_sigma_nm(modality), rel=0.015)
    assert sigma["count"] == len(accepted) and 0 < sigma["sigma_mad_nm"] < 3.0
    distance, _ = cKDTree(truth[["y_px", "x_px"]]).query(accepted[["y_px", "x_px"]])
    assert np.sqrt(np.mean(distance**2)) < 0.05  # measured 0.026 px at 1000 photons


@pytest.mark.parametrize("modality", ["widefield", "confocal"])
def test_a_z_stack_is_measured_in_its_focal_plane(modality):
    pixel_nm = SETUP[modality][0]
    planes_nm = np.arange(-3, 4) * 200.0  # plane 3 is in focus
    # Bright beads (sigma spread ~0.3 nm) so that two noise draws agree to 1 %.
    stack, _ = simulate_beads(
        OPTICS, modality, pixel_nm, 192, 20, seed=3, z_planes_nm=planes_nm, peak_photons=5000
    )
    flat, _ = simulate_beads(OPTICS, modality, pixel_nm, 192, 20, seed=3, peak_photons=5000)
    assert stack.shape == (7, 192, 192)
    table = fit(stack, modality)
    assert (table["z_plane"] == 3).all()
    assert bead_sigma_nm(table)["sigma_nm"] == pytest.approx(
        bead_sigma_nm(fit(flat, modality))["sigma_nm"], rel=0.01
    )
    # The stack's planes 200 nm off focus are wider: they would have given another sigma.
    defocused = bead_sigma_nm(fit(stack[2], modality))["sigma_nm"]
    assert defocused > bead_sigma_nm(table)["sigma_nm"]


@pytest.mark.parametrize("modality", ["widefield", "confocal"])
def test_touching_pairs_are_rejected(modality):
    pixel_nm = SETUP[modality][0]
    positions = [[1500.0 + 1800.0 * k, 8000.0] for k in range(6)]  # isolated
    for k in range(4):
        positions += [[2000.0 + 2500.0 * k, 3000.0], [2000.0 + 2500.0 * k, 3400.0]]  # 400 nm
        positions += [[2000.0 + 2500.0 * k, 5500.0], [2000.0 + 2500.0 * k, 5650.0]]  # 150 nm
    size_px = round(11000 / pixel_nm)
    image, _ = simulate_beads(
        OPTICS, modality, pixel_nm, size_px, 0, seed=4, positions_nm=np.array(positions)
    )
    table = fit(image, modality)
    resolved = table[(table["x_nm"] > 2700) & (table["x_nm"] < 3700)]
    merged = table[(table["x_nm"] > 5200) & (table["x_nm"] < 6000)]
    isolated = table[table["x_nm"] > 7500]
    assert len(resolved) == 8 and (resolved["reason"] == "not isolated").all()
    # 150 nm apart the two beads make one peak, too wide for one bead.
    assert len(merged) == 4 and not merged["accepted"].any()
    assert len(isolated) == 6 and isolated["accepted"].all()


def test_saturated_and_border_beads_are_rejected():
    positions = [[2000.0, 2000.0], [2000.0, 6000.0], [6000.0, 2000.0], [6000.0, 6000.0]]
    positions.append([90.0, 4000.0])  # its fit window would leave the image
    image, _ = simulate_beads(
        OPTICS, "widefield", 90.0, 90, 0, seed=5, positions_nm=np.array(positions)
    )
    table = fit(image, "widefield")
    inside = table["y_nm"] > 1000
    assert inside.sum() == 4 and table.loc[inside, "accepted"].all()
    assert (table.loc[~inside, "reason"] == "border").all() and (~inside).sum() == 1
    clipped = fit(np.minimum(image, 0.3 * image.max()), "widefield")  # a camera's full well
    assert (clipped.loc[clipped["y_nm"] > 1000, "reason"] == "saturated").all()


def test_no_bead_names_the_source():
    rng = np.random.default_rng(0)
    noise = rng.poisson(10.0, (128, 128)).astype(np.float32)
    with pytest.raises(InputError, match="beads/wf_01.tif: no bead found"):
        fit(noise, "widefield", source="beads/wf_01.tif")
    with pytest.raises(InputError, match="beads/wf_01.tif: no bead found"):
        fit(np.full((64, 64), 7.0), "widefield", source="beads/wf_01.tif")
    with pytest.raises(InputError, match="beads/wf_01.tif: a bead image must be 2D"):
        fit(np.zeros(10), "widefield", source="beads/wf_01.tif")


def test_too_few_accepted_beads_name_the_set_and_why():
    image, _ = simulate_beads(
        OPTICS, "confocal", 45.0, 96, 0, seed=6, positions_nm=[[2000.0, 2000.0], [2000.0, 2300.0]]
    )
    table = fit(image, "confocal")
    with pytest.raises(InputError, match=r"confocal beads: 0 accepted .* 2 not isolated"):
        bead_sigma_nm(table, "confocal beads")


def test_simulated_beads_are_deterministic_and_placed_apart():
    image, truth = simulate_beads(OPTICS, "confocal", 45.0, 128, 5, seed=7)
    again, same = simulate_beads(OPTICS, "confocal", 45.0, 128, 5, seed=7)
    np.testing.assert_array_equal(image, again)
    assert truth.equals(same)
    assert list(truth.columns) == ["y_nm", "x_nm", "y_px", "x_px", "brightness"]
    yx = truth[["y_nm", "x_nm"]].to_numpy()
    gaps = np.hypot(*(yx[:, None] - yx[None]).transpose(2, 0, 1))[np.triu_indices(5, 1)]
    assert gaps.min() >= 1500.0
    assert np.allclose(truth["y_px"], yx[:, 0] / 45.0 - 0.5)
    with pytest.raises(InputError, match="cannot place 50 beads"):
        simulate_beads(OPTICS, "confocal", 45.0, 64, 50, seed=7)
