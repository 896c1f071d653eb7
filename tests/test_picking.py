"""Tests of the Topaz wrapper: coordinates, labels, matching, and a real small Topaz run."""

from __future__ import annotations

import json
import logging
import subprocess
import sys
from collections.abc import Callable
from functools import partial
from pathlib import Path

import numpy as np
import pandas as pd
import pytest
from scipy import ndimage, special

from centriole_sr import io, picking
from centriole_sr.settings import Picking, Reading
from centriole_sr.stages.picking import pick_centrioles


def spot_field(
    shape: tuple[int, int], centres_yx: np.ndarray, sigma_px: float, rng: np.random.Generator
) -> np.ndarray:
    """Gaussian spots of random brightness, large dim blobs as clutter, background, shot noise."""
    image = np.zeros(shape)
    for y, x in centres_yx:
        image[int(round(y)), int(round(x))] += rng.uniform(0.7, 1.3)
    image = ndimage.gaussian_filter(image, sigma_px) * 2 * np.pi * sigma_px**2
    blobs = np.zeros(shape)
    blobs[tuple(rng.integers(0, shape, size=(8, 2)).T)] = 1.0
    image += 0.4 * ndimage.gaussian_filter(blobs, 4 * sigma_px) * 2 * np.pi * (4 * sigma_px) ** 2
    return (rng.poisson((image + 0.2) * 100) / 100).astype(np.float32)


def separated_centres(
    shape: tuple[int, int], count: int, min_distance_px: float, rng: np.random.Generator
) -> np.ndarray:
    """``count`` random (y, x) centres at least ``min_distance_px`` apart, away from the border."""
    centres: list[np.ndarray] = []
    while len(centres) < count:
        candidate = rng.uniform(12, np.array(shape) - 12)
        if all(np.hypot(*(candidate - other)) >= min_distance_px for other in centres):
            centres.append(candidate)
    return np.round(np.array(centres))


def test_downsample_factor_and_radii():
    assert picking.downsample_factor(45.0, 90.0) == 2
    assert picking.downsample_factor(90.0, 90.0) == 1
    assert picking.downsample_factor(200.0, 90.0) == 1  # never upsamples
    assert picking.downsample_factor(30.0, 90.0) == 3
    assert picking.label_radius_px(400.0, 45.0, 2) == 2  # 200 nm at 90 nm per pixel
    assert picking.label_radius_px(100.0, 90.0, 2) == 1  # at least one pixel
    assert picking.suppression_radius_px(400.0, 45.0, 2) == 4  # a whole diameter
    assert picking.suppression_radius_px(50.0, 90.0, 1) == 1


def test_fluorescence_is_saturated_and_negated_for_topaz():
    image = np.array([[0.0, 2.5], [1.0, 7.0]])
    negated = picking.fluorescence_to_topaz(image)
    assert negated.dtype == np.float32
    np.testing.assert_array_equal(negated, -image)
    ramp = np.arange(1000.0).reshape(20, 50)
    saturated = -picking.fluorescence_to_topaz(ramp, saturate_percentile=99.0)
    assert saturated.max() == pytest.approx(np.percentile(ramp, 99.0))
    assert (saturated == saturated.max()).sum() == 10  # the brightest 1 % share one value
    np.testing.assert_array_equal(saturated.ravel()[:990], ramp.ravel()[:990])


def test_topaz_coordinates_are_exact_inverses():
    coords_px = np.array([0.0, 1.0, 7.3, 511.5, 1023.0])
    for factor in (1, 2, 3):
        back = picking.from_topaz_px(picking.to_topaz_px(coords_px, factor), factor)
        np.testing.assert_allclose(back, coords_px, rtol=0, atol=1e-12)
    assert picking.to_topaz_px(10.0, 2) == 5.0


def test_spot_position_survives_topaz_preprocess(tmp_path, caplog):
    """A spot's centroid in the downsampled field maps back to its original position."""
    caplog.set_level(logging.INFO)
    factor, shape = 3, (301, 302)  # not multiples of 3: the last row/columns are cropped
    truth_yx = np.array([[101.0, 77.0], [200.4, 230.7]])
    yy, xx = np.mgrid[: shape[0], : shape[1]]
    image = sum(np.exp(-((yy - y) ** 2 + (xx - x) ** 2) / (2 * 4.0**2)) for y, x in truth_yx)
    picking.write_mrc(tmp_path / "in put" / "spot field.mrc", image)
    small_path = picking.preprocess(
        tmp_path / "in put" / "spot field.mrc", tmp_path / "out dir", factor
    )
    small = picking.read_mrc(small_path)
    assert small.shape == (100, 100)
    found_yx = []
    for y, x in np.rint(picking.to_topaz_px(truth_yx, factor)).astype(int):
        window = small[y - 3 : y + 4, x - 3 : x + 4]
        cy, cx = ndimage.center_of_mass(window - window.min())
        found_yx.append(picking.from_topaz_px(np.array([y + cy - 3, x + cx - 3]), factor))
    # measured: within 0.1 original pixels (the 7x7 window's truncation biases it slightly)
    np.testing.assert_allclose(found_yx, truth_yx, rtol=0, atol=0.25)
    assert f" preprocess -s 3 --sample {picking.GMM_SAMPLE} " in caplog.text


def test_preprocess_gmm_sample_is_seeded_and_close_to_fitting_every_pixel(tmp_path, caplog):
    """--sample fits the normalisation on a random pixel subset: the same seed gives the same
    field bit for bit, and it is the full fit's to within 1 % of its spread."""
    caplog.set_level(logging.INFO)
    rng = np.random.default_rng(5)
    field = -spot_field((256, 256), separated_centres((256, 256), 12, 20.0, rng), 3.0, rng)
    picking.write_mrc(tmp_path / "field.mrc", field)
    runs = {
        (sample, seed, run): picking.read_mrc(
            picking.preprocess(
                tmp_path / "field.mrc", tmp_path / f"{sample}-{seed}-{run}", 1,
                sample=sample, seed=seed,
            )
        )
        for sample, seed, run in ((10, 0, 0), (10, 0, 1), (10, 1, 0), (1, 0, 0))
    }  # fmt: skip
    np.testing.assert_array_equal(runs[10, 0, 0], runs[10, 0, 1])
    assert not np.array_equal(runs[10, 0, 0], runs[10, 1, 0])  # the sample does change
    # the normalised fields are affine in each other: (x - mu) / std with other mu, std
    full, sampled = runs[1, 0, 0].ravel(), runs[10, 0, 0].ravel()
    slope, offset = np.polyfit(full, sampled, 1)
    # measured: 1.3 % in spread from 6,500 of 65,000 pixels (0.2 % from 42,000 of 4.2 M)
    assert abs(slope - 1) < 0.03 and abs(offset) < 0.03
    assert "--sample 10" in caplog.text


def test_topaz_commands_run_as_the_topaz_cli_runs_them(tmp_path, caplog):
    """run_topaz imports only the command it runs, in another process or in this one; its
    output is the `topaz` program's, and so is what it prints, logged; in this process, the
    generators Topaz draws from and PyTorch's thread count are as they were before."""
    import random

    import torch

    caplog.set_level(logging.INFO)
    rng = np.random.default_rng(2)
    field = -spot_field((128, 128), separated_centres((128, 128), 6, 20.0, rng), 3.0, rng)
    picking.write_mrc(tmp_path / "field.mrc", field)

    def preprocess(out: str, sample: int, **how) -> np.ndarray:
        args = ["preprocess", "-s", "2", "--sample", str(sample), "-j", "1", "-v"]
        picking.run_topaz([*args, "-o", str(tmp_path / out), str(tmp_path / "field.mrc")], **how)
        return picking.read_mrc(tmp_path / out / "field.mrc")

    def draws_after_seeding(then: Callable[[], object] = lambda: None) -> tuple:
        random.seed(7)
        np.random.seed(7)  # noqa: NPY002
        torch.manual_seed(7)
        then()
        state = (random.random(), np.random.random(), float(torch.rand(1)))  # noqa: NPY002
        return (*state, torch.get_num_threads(), np.random.default_rng)

    ours = preprocess("ours", 1)
    assert caplog.messages[0].startswith(
        f"$ topaz preprocess -s 2 --sample 1 -j 1 -v -o {tmp_path}"
    )
    program = Path(sys.executable).with_name("topaz")
    cli = subprocess.run(
        [program, "preprocess", "-s", "2", "--sample", "1", "-j", "1", "-v",
         "-o", str(tmp_path / "cli"), str(tmp_path / "field.mrc")],
        check=True, capture_output=True, text=True,
    )  # fmt: skip
    printed = [line for line in (cli.stdout + cli.stderr).splitlines() if line]
    assert ours.shape == (64, 64) and printed
    np.testing.assert_array_equal(ours, picking.read_mrc(tmp_path / "cli" / "field.mrc"))
    np.testing.assert_array_equal(preprocess("here", 1, in_process=True), ours)
    topaz_lines = [r.getMessage() for r in caplog.records if r.name == "centriole_sr.topaz"]
    assert topaz_lines == printed + printed  # in another process, then in this one
    # seeded, one pixel in 3 sampled: the same sample in this process as in another
    elsewhere = preprocess("seeded", 3, seed=4)
    here = partial(preprocess, "seeded here", 3, seed=4, in_process=True)
    assert draws_after_seeding(here) == draws_after_seeding()
    np.testing.assert_array_equal(
        picking.read_mrc(tmp_path / "seeded here" / "field.mrc"), elsewhere
    )
    assert not np.array_equal(elsewhere, ours)


def test_labels_to_targets_uses_topaz_names_and_x_as_column():
    labels = pd.DataFrame({"field": ["a b", "c"], "x_px": [10.0, 3.0], "y_px": [22.6, 40.0]})
    targets = picking.labels_to_targets(labels, factor=2)
    assert list(targets.columns) == ["image_name", "x_coord", "y_coord"]
    assert targets["image_name"].tolist() == ["a b", "c"]
    assert targets["x_coord"].tolist() == [5, 2]  # 1.5 rounds to even
    assert targets["y_coord"].tolist() == [11, 20]


def test_write_mrc_round_trip(tmp_path):
    image = np.arange(12, dtype=np.float64).reshape(3, 4)
    picking.write_mrc(tmp_path / "field.mrc", image)
    back = picking.read_mrc(tmp_path / "field.mrc")
    assert back.dtype == np.float32
    np.testing.assert_array_equal(back, image)
    assert [p.name for p in tmp_path.iterdir()] == ["field.mrc"]


@pytest.mark.parametrize("in_process", [False, True])
def test_failed_topaz_command_names_command_and_its_output(tmp_path, caplog, in_process):
    caplog.set_level(logging.INFO)
    with pytest.raises(picking.TopazError) as error:
        picking.run_topaz(["extract", "--no-such-option"], in_process=in_process)
    message = str(error.value)
    assert "extract --no-such-option" in message
    assert "unrecognized arguments" in message  # from its last lines of output
    assert "unrecognized arguments" in caplog.text  # and logged as it came


@pytest.mark.parametrize("radius_px", [1, 3, 6])
def test_suppression_keeps_the_maxima_topaz_keeps(radius_px):
    """The same picks, scores and order as Topaz's own greedy loop, on smooth and rough score
    maps (its loop wraps discs across the left and right edges: those columns score low)."""
    from topaz.algorithms import non_maximum_suppression

    rng = np.random.default_rng(radius_px)
    for smoothing_px in (0.7, 3.0):
        scores = ndimage.gaussian_filter(rng.normal(size=(200, 180)), smoothing_px)
        scores = scores.astype(np.float32)
        scores[:, : radius_px + 1] = scores[:, -radius_px - 1 :] = -10.0
        topaz_scores, topaz_xy = non_maximum_suppression(scores, radius_px, -5.0)
        yx, kept = picking.suppress_non_maxima(scores, radius_px, -4.0)
        assert len(kept) > 50
        np.testing.assert_array_equal(kept, topaz_scores)  # highest first, as Topaz
        # the same pixels; of equal float32 scores (a few here) Topaz's sort puts either first
        assert set(map(tuple, yx.tolist())) == set(map(tuple, topaz_xy[:, ::-1].tolist()))
        # every kept pixel tops its disc among the pixels not suppressed before it
        yx_high, _ = picking.suppress_non_maxima(scores, radius_px, float(kept[len(kept) // 2]))
        np.testing.assert_array_equal(yx_high, yx[: len(yx_high)])


def test_match_picks_counts_one_to_one():
    picks = np.array([[0.0, 0.0], [10.0, 10.0], [20.0, 20.0]])
    truth = np.array([[0.0, 1.0], [10.0, 12.0], [50.0, 50.0]])
    scores = picking.match_picks(picks, truth, radius_px=1.5)
    assert (scores["tp"], scores["fp"], scores["fn"]) == (1, 2, 2)
    assert scores["precision"] == pytest.approx(1 / 3)
    assert scores["f1"] == pytest.approx(1 / 3)
    # two picks near one truth: only one of them counts
    two_on_one = picking.match_picks(np.array([[0.0, 0.0], [0.0, 0.5]]), truth[:1], 1.5)
    assert (two_on_one["tp"], two_on_one["fp"], two_on_one["fn"]) == (1, 1, 0)
    assert two_on_one["f1"] == pytest.approx(2 / 3)


def test_match_picks_finds_the_assignment_that_matches_most():
    # pick (0, 1) is 1.0 from both truths; taking the first truth would strand pick (0, -0.9)
    picks = np.array([[0.0, 1.0], [0.0, -0.9]])
    truth = np.array([[0.0, 0.0], [0.0, 2.0]])
    assert picking.match_picks(picks, truth, radius_px=1.0)["f1"] == 1.0
    pick_index, truth_index = picking.matched_pairs(picks, truth, radius_px=1.0)
    assert dict(zip(pick_index.tolist(), truth_index.tolist(), strict=True)) == {0: 1, 1: 0}


def test_match_picks_with_nothing_on_one_side():
    truth = np.array([[5.0, 5.0], [9.0, 9.0]])
    no_picks = picking.match_picks(np.zeros((0, 2)), truth, 2.0)
    assert (no_picks["tp"], no_picks["fp"], no_picks["fn"], no_picks["f1"]) == (0, 0, 2, 0.0)
    no_truth = picking.match_picks(truth, np.zeros((0, 2)), 2.0)
    assert (no_truth["fp"], no_truth["precision"], no_truth["recall"]) == (2, 0.0, 0.0)


def test_precision_recall_curve_and_best_threshold():
    picks = pd.DataFrame(
        {"y_px": [0.0, 30.0, 10.0], "x_px": [0.0, 30.0, 10.0], "score": [0.9, 0.8, 0.7]}
    )
    truth = np.array([[0.0, 0.5], [10.0, 9.0]])
    curve = picking.precision_recall_curve([picks], [truth], radius_px=2.0)
    assert list(curve.columns) == ["threshold", "precision", "recall", "f1"]
    np.testing.assert_allclose(curve["threshold"], [0.9, 0.8, 0.7])
    np.testing.assert_allclose(curve["precision"], [1.0, 0.5, 2 / 3])
    np.testing.assert_allclose(curve["recall"], [0.5, 0.5, 1.0])
    np.testing.assert_allclose(curve["f1"], [2 / 3, 0.5, 0.8])
    best = picking.best_threshold(curve)
    assert best["threshold"] == pytest.approx(0.7)
    assert best["f1"] == pytest.approx(0.8)


def test_best_threshold_maximises_f1_pooled_over_fields():
    """Two fields, each with true spots scoring 5..9 and clutter scoring 1..8: the threshold of
    highest pooled F1 is found by brute force over every cut, and matching stays per field
    (a pick of one field never matches a centre of the other at the same coordinates)."""
    rng = np.random.default_rng(0)
    picks_by_field, truth_by_field = [], []
    for _ in range(2):
        truth = rng.uniform(0, 500, (10, 2))
        clutter = rng.uniform(600, 900, (6, 2))
        picks_by_field.append(
            pd.DataFrame(
                {
                    "y_px": np.r_[truth[:8, 0], clutter[:, 0]],
                    "x_px": np.r_[truth[:8, 1], clutter[:, 1]],
                    "score": np.r_[rng.uniform(5, 9, 8), rng.uniform(1, 8, 6)],
                }
            )
        )
        truth_by_field.append(truth)  # 2 centres per field are never picked
    curve = picking.precision_recall_curve(picks_by_field, truth_by_field, radius_px=1.0)
    best = picking.best_threshold(curve)

    def pooled_f1(threshold):
        kept = [p[p["score"] >= threshold] for p in picks_by_field]
        tp = sum(int((k["y_px"] < 600).sum()) for k in kept)
        fp = sum(len(k) for k in kept) - tp
        return 2 * tp / (tp + fp + 20)  # 2 tp / (2 tp + fp + fn), 20 centres in all

    scores = np.concatenate([p["score"] for p in picks_by_field])
    assert best["f1"] == pytest.approx(max(pooled_f1(t) for t in scores))
    assert pooled_f1(best["threshold"]) == pytest.approx(best["f1"])
    assert best["f1"] > pooled_f1(scores.min()) and best["f1"] > pooled_f1(scores.max())
    swapped = picking.precision_recall_curve(picks_by_field, truth_by_field[::-1], 1.0)
    assert swapped["f1"].max() == 0.0


def test_refine_centres_moves_picks_to_the_centre_of_an_elongated_spot():
    """Picks on one end of a barrel-like streak (and one pixel off a round spot) move to
    the intensity centre within the radius, to sub-pixel precision."""
    image = np.zeros((80, 80), np.float32)
    image[20, 14:27] = 1.0  # a 13-pixel barrel along x, centred on (20, 20)
    image[60, 50] = 1.0
    image = ndimage.gaussian_filter(image, 1.5) + 0.1
    picks = pd.DataFrame({"y_px": [20.0, 61.0], "x_px": [24.0, 49.0], "score": [2.0, 1.0]})
    refined = picking.refine_centres(image, picks, radius_px=9.0)
    np.testing.assert_allclose(refined[["y_px", "x_px"]], [[20.0, 20.0], [60.0, 50.0]], atol=0.3)
    assert refined["score"].tolist() == [2.0, 1.0]
    corner = pd.DataFrame({"y_px": [1.0], "x_px": [1.0], "score": [0.0]})
    inside = picking.refine_centres(image, corner, radius_px=9.0)  # disc cut by the border
    assert ((inside[["y_px", "x_px"]] >= 0) & (inside[["y_px", "x_px"]] < 80)).all(axis=None)


def test_merge_duplicates_keeps_the_higher_score():
    picks = pd.DataFrame(
        {"y_px": [0.0, 0.0, 0.0], "x_px": [0.0, 3.0, 10.0], "score": [1.0, 2.0, 0.5]}
    )
    merged = picking.merge_duplicates(picks, min_distance_px=5.0)
    assert merged["x_px"].tolist() == [3.0, 10.0]
    assert merged["score"].tolist() == [2.0, 0.5]


def test_drop_border_picks_matches_patch_cropping():
    picks = pd.DataFrame(
        {"y_px": [9.4, 9.5, 90.4, 90.5, 50.0], "x_px": [50.0] * 5, "score": [1.0] * 5}
    )
    kept = picking.drop_border_picks(picks, (100, 100), half_size_px=10)
    assert kept["y_px"].tolist() == [9.5, 90.4, 50.0]


def _topaz_fields(tmp_path, factor, shape=(384, 384), count=30, labelled=6):
    """Two spot fields as Topaz sees them (negated, preprocessed): their paths, their centres
    and a labels table of the first `labelled` centres of each."""
    rng = np.random.default_rng(3)
    images, truths = {}, {}
    for field in ("field 0", "field 1"):
        truths[field] = separated_centres(shape, count, 20.0, rng)
        field_image = spot_field(shape, truths[field], 4.0, rng)
        picking.write_mrc(
            tmp_path / "mrc" / f"{field}.mrc", picking.fluorescence_to_topaz(field_image)
        )
        images[field] = picking.preprocess(
            tmp_path / "mrc" / f"{field}.mrc", tmp_path / "pre", factor
        )
    labels = pd.concat(
        pd.DataFrame({"field": field, "x_px": yx[:labelled, 1], "y_px": yx[:labelled, 0]})
        for field, yx in truths.items()
    )
    return images, truths, labels


def spots_and_blobs(
    rng: np.random.Generator, shape: tuple[int, int] = (256, 256)
) -> tuple[np.ndarray, pd.DataFrame, np.ndarray]:
    """A field of 12 compact spots (centrioles, sigma 2 px) and 8 diffuse blobs (sigma 7 px) of
    the same peak height, and candidates on all of them whose Topaz-like scores rank blobs
    above many spots: (field, candidates, spots). Low-scoring candidates on background are
    made too, and dropped by the field's floor, as the pipeline drops them."""
    centres = separated_centres(shape, 20, 40, rng)
    yy, xx = np.mgrid[: shape[0], : shape[1]]
    image = np.full(shape, 0.1)
    for index, (y, x) in enumerate(centres):
        sigma_px = 2.0 if index < 12 else 7.0
        image += rng.uniform(0.7, 1.3) * np.exp(
            -((yy - y) ** 2 + (xx - x) ** 2) / (2 * sigma_px**2)
        )
    image += rng.normal(0, 0.02, shape)
    background = rng.uniform(10, np.array(shape) - 10, size=(400, 2))  # most local maxima
    candidates = pd.DataFrame(
        {
            "y_px": np.r_[centres[:, 0], background[:, 0]],
            "x_px": np.r_[centres[:, 1], background[:, 1]],
            "score": np.r_[rng.uniform(0, 3, 12), rng.uniform(1, 4, 8), rng.uniform(-9, -6, 400)],
        }
    )
    candidates = candidates[candidates["score"] >= picking.field_floor(candidates["score"])]
    assert len(candidates) == 20
    return image, candidates, centres[:12]


def test_ring_profile_tells_diffuse_blobs_from_compact_spots():
    image, candidates, _ = spots_and_blobs(np.random.default_rng(0))
    profile = picking.ring_profile(image, candidates.iloc[:20], radius_px=4.0)
    assert profile.shape == (20, len(picking.RING_EDGES_RADII) - 2)
    spots, blobs = profile[:12], profile[12:]
    # a blob's light reaches the outer rings; a spot's is gone by 1.5 radii
    assert blobs[:, 1].min() > spots[:, 1].max()
    assert (blobs[:, 0] > 0.5).all() and (spots[:, 1] < 0.15).all()
    # at the corner the rings are cut by the border; on background the ratios are noise,
    # kept within RING_RATIO_RANGE
    edge = pd.DataFrame({"y_px": [0.0, 128.0], "x_px": [0.0, 3.0]})
    flat = picking.ring_profile(np.full((256, 256), 0.1), edge, radius_px=4.0)
    assert np.isfinite(flat).all()
    assert (flat >= picking.RING_RATIO_RANGE[0]).all() and (
        flat <= picking.RING_RATIO_RANGE[1]
    ).all()


def test_width_across_tells_a_tilted_barrel_from_a_blob():
    """A barrel seen from the side (sigma 1.5 x 4 px, tilted 45 degrees) is narrow across its
    axis; a blob (sigma 7 px) is wide in every direction; no light above the background gives
    the reach."""
    yy, xx = np.mgrid[:128, :128].astype(float)
    along, across = ((yy - 40) + (xx - 40)) / np.sqrt(2), ((yy - 40) - (xx - 40)) / np.sqrt(2)
    image = 0.1 + np.exp(-(along**2) / (2 * 4.0**2) - across**2 / (2 * 1.5**2))
    image += np.exp(-((yy - 90) ** 2 + (xx - 90) ** 2) / (2 * 7.0**2))
    picks = pd.DataFrame({"y_px": [40.0, 90.0], "x_px": [40.0, 90.0]})
    barrel, blob = picking.width_across(image, picks, radius_px=4.0)
    assert barrel == pytest.approx(1.5 / 4.0, rel=0.1)
    assert blob > 2.5 * barrel
    flat = picking.width_across(np.full((64, 64), 0.1), picks.iloc[:1], radius_px=4.0)
    np.testing.assert_array_equal(flat, [picking.WIDTH_REACH_RADII])


def test_rescorer_fitted_on_one_field_ranks_spots_above_blobs_on_another():
    image, candidates, spots = spots_and_blobs(np.random.default_rng(1))
    rescorer = picking.fit_rescorer([image], [candidates], [spots], 4.0, 3.0)
    assert rescorer is not None
    new_image, new_candidates, new_spots = spots_and_blobs(np.random.default_rng(2))
    by_topaz = new_candidates.sort_values("score", ascending=False)
    matched = picking.matched_pairs(by_topaz[["y_px", "x_px"]].to_numpy(), new_spots, 3.0)[0]
    assert matched.max() >= 12  # Topaz's order puts blobs among the spots
    rescored = rescorer.score(new_image, new_candidates, 4.0)
    assert rescored["score"].is_monotonic_decreasing
    assert sorted(rescored["topaz_score"]) == sorted(new_candidates["score"])
    top = rescored[["y_px", "x_px"]].to_numpy()[:12]
    assert picking.match_picks(top, new_spots, 3.0)["tp"] == 12  # every spot above every blob
    assert picking.Rescorer.from_dict(json.loads(json.dumps(rescorer.to_dict()))) == rescorer


def test_no_rescorer_without_clutter_to_learn_from():
    image, candidates, spots = spots_and_blobs(np.random.default_rng(3))
    only_spots = candidates.iloc[:12]
    assert picking.fit_rescorer([image], [only_spots], [spots], 4.0, 3.0) is None
    assert picking.fit_rescorer([image], [candidates.iloc[:0]], [spots], 4.0, 3.0) is None


def test_field_floor_follows_the_pickers_scale_on_each_field():
    """Most local maxima are background: the floor drops nearly all of them and keeps the
    centrioles, and moves with the field's scores (a picker scores the fields it trained on
    higher), so a field scored twice as high gets a floor twice as high."""
    rng = np.random.default_rng(0)
    background, centrioles = rng.normal(-30, 5, 2000), rng.uniform(20, 60, 20)
    scores = np.r_[background, centrioles]
    floor = picking.field_floor(scores)
    assert (centrioles >= floor).all() and (background < floor).mean() > 0.97
    assert picking.field_floor(2 * scores + 10) == pytest.approx(2 * floor + 10)
    assert picking.field_floor(np.zeros(0)) == np.inf


def test_expected_curve_counts_each_pick_by_its_probability():
    """Two fields, picks of known probability: expected true picks are their sums, ties make
    one threshold, and missed centrioles count against recall."""
    probability = [[0.9, 0.5], [0.9, 0.1]]
    picks = [pd.DataFrame({"score": special.logit(p)}) for p in probability]
    curve = picking.expected_curve(picks, missed=0.6)
    np.testing.assert_allclose(curve["threshold"], special.logit([0.9, 0.5, 0.1]))
    centrioles = 2.4 + 0.6
    np.testing.assert_allclose(curve["precision"], [0.9, 2.3 / 3, 2.4 / 4])
    np.testing.assert_allclose(curve["recall"], [1.8, 2.3, 2.4] / np.array(centrioles))
    np.testing.assert_allclose(curve["f1"], [3.6 / 5, 4.6 / 6, 4.8 / 7])
    assert picking.best_threshold(curve)["threshold"] == pytest.approx(special.logit(0.5))


def test_a_few_clicks_calibrate_a_threshold_that_keeps_the_unclicked_spots_elsewhere():
    """4 of 12 spots clicked: the rescorer estimates that about a third of the spots carry a
    click, and the threshold it chooses keeps the spots of another field and not its blobs."""
    image, candidates, spots = spots_and_blobs(np.random.default_rng(1))
    clicked = spots[::3]
    calibration = picking.calibrate([image], [candidates], [clicked], 4.0, 3.0, rescore=True)
    assert 0.15 < calibration.rescorer.label_frequency < 0.6
    assert calibration.rescorer.centrioles == 4
    new_image, new_candidates, new_spots = spots_and_blobs(np.random.default_rng(2))
    rescored = calibration.rescorer.score(new_image, new_candidates, 4.0)
    kept = rescored[rescored["score"] >= calibration.best["threshold"]]
    found = picking.match_picks(kept[["y_px", "x_px"]].to_numpy(), new_spots, 3.0)
    assert found["tp"] >= 11 and found["fp"] <= 1, found
    # the expected F1 is what the threshold gives against every spot of the clicked field
    own = calibration.rescorer.score(image, candidates, 4.0)
    own = own[own["score"] >= calibration.best["threshold"]]
    true_f1 = picking.match_picks(own[["y_px", "x_px"]].to_numpy(), spots, 3.0)["f1"]
    assert calibration.best["f1"] == pytest.approx(true_f1, abs=0.1)


def test_without_rings_the_rescorer_keeps_topazs_order():
    """With rescore false the probability is Topaz's score's alone: here the spots score highest."""
    image, candidates, spots = spots_and_blobs(np.random.default_rng(4))
    candidates.loc[:11, "score"] += 3.0
    rescorer = picking.fit_rescorer([image], [candidates], [spots[::2]], 4.0, 3.0, rings=False)
    assert len(rescorer.coefficients) == 1 and rescorer.coefficients[0] > 0
    rescored = rescorer.score(image, candidates, 4.0)
    assert rescored["topaz_score"].is_monotonic_decreasing


def test_topaz_training_is_reproducible_for_a_seed(tmp_path):
    """Same seed, same picker, bit for bit (Topaz seeds parts of its sampling from the OS)."""
    images, _, labels = _topaz_fields(tmp_path, 2, shape=(192, 192), count=8, labelled=8)
    models = [
        picking.train_picker(
            images,
            picking.labels_to_targets(labels, 2),
            tmp_path / f"model{run}",
            radius_px=2,
            num_particles_per_image=8,
            num_epochs=1,
            epoch_size=3,
            seed=7,
            threads=1,
        )
        for run in range(2)
    ]
    assert models[0].read_bytes() == models[1].read_bytes()


def test_topaz_warnings_that_mislead_on_few_clicks_are_explained_in_the_log(tmp_path, caplog):
    """Clicks in one corner of a field: Topaz warns of wrongly scaled coordinates, and reports
    a prior from picking.expected_per_field; the log says what each means."""
    images, truths, _ = _topaz_fields(tmp_path, 2, shape=(192, 192), count=8, labelled=8)
    corner = truths["field 0"][(truths["field 0"] < 100).all(axis=1)][:2]
    labels = pd.DataFrame({"field": "field 0", "x_px": corner[:, 1], "y_px": corner[:, 0]})
    caplog.set_level(logging.INFO)
    picking.train_picker(
        {"field 0": images["field 0"]}, picking.labels_to_targets(labels, 2), tmp_path / "m",
        radius_px=2, num_particles_per_image=8, num_epochs=1, epoch_size=1, threads=1,
    )  # fmt: skip
    messages = caplog.messages
    for start, note in picking.TOPAZ_NOTES.items():
        line = next(i for i, m in enumerate(messages) if m.lstrip("# ").startswith(start))
        assert f"note on Topaz's line above: {note}" in messages[line + 1 :]
    assert sum(m.startswith("note on Topaz") for m in messages) == len(picking.TOPAZ_NOTES)


def test_topaz_learns_to_pick_spots_from_a_few_labels(tmp_path, caplog):
    """Train on 2 small fields with 6 labelled spots each; most of the 30 spots are found.

    As in the pipeline: negated fields, pretrained start, the threshold of best F1 on the
    labelled field, picks refined to the spot centres, scored on the other field.
    """
    factor = 2
    radius_px = picking.label_radius_px(400.0, 45.0, factor)
    suppression_px = picking.suppression_radius_px(400.0, 45.0, factor)
    caplog.set_level(logging.INFO)
    images, truths, labels = _topaz_fields(tmp_path, factor)
    model = picking.train_picker(
        images,
        picking.labels_to_targets(labels, factor),
        tmp_path / "model",
        radius_px=radius_px,
        num_particles_per_image=30,
        num_epochs=4,  # F1 0.79-1.00 over seeds and CPUs (0.71-0.98 with 2 epochs)
        epoch_size=25,
        minibatch_size=64,
        seed=0,
        threads=1,
    )
    assert model.name == "model_epoch4.sav"
    picks = {
        field: picking.extract_picks(
            model, image, factor, radius_px=suppression_px, threshold=picking.EVERY_MAXIMUM_SCORE
        )
        for field, image in images.items()
    }
    assert list(picks["field 1"].columns) == ["y_px", "x_px", "score"]
    assert picks["field 1"]["score"].is_monotonic_decreasing
    # at a threshold equal to a pick's score, Topaz is asked for less (it keeps scores strictly
    # above -t): exactly the picks scoring >= it come back, the one at it included, unchanged
    everything = picks["field 1"]
    for rank in (0, 4, 9):
        threshold = float(everything["score"].iloc[rank])
        above = picking.extract_picks(
            model, images["field 1"], factor, radius_px=suppression_px, threshold=threshold
        )
        expected = everything[everything["score"] >= threshold].reset_index(drop=True)
        assert len(above) == len(expected) >= rank + 1
        pd.testing.assert_frame_equal(above, expected)
    # the picks `topaz extract` writes, away from the left and right edges (see
    # test_suppression_keeps_the_maxima_topaz_keeps)
    program = Path(sys.executable).with_name("topaz")
    subprocess.run(
        [program, "extract", "-m", model, "-r", str(suppression_px), "-t=-1e5",
         "-p", str(picking.SCORE_PATCH_PX), "-o", tmp_path / "cli.txt", images["field 1"]],
        check=True, capture_output=True,
    )  # fmt: skip
    cli = pd.read_csv(tmp_path / "cli.txt", sep="\t")
    width = picking.read_mrc(images["field 1"]).shape[1]
    inside_x_max = width - suppression_px - 2
    inside = cli[cli["x_coord"].between(suppression_px + 1, inside_x_max)]
    inside_ours = (everything["x_px"] / factor).between(suppression_px + 1, inside_x_max)
    ours = everything[inside_ours].assign(
        x_coord=lambda t: (t["x_px"] / factor).astype(int),
        y_coord=lambda t: (t["y_px"] / factor).astype(int),
    )
    # channels-last convolutions sum in another order: scores a float32 rounding apart, which
    # swaps some suppressions among the nearly flat background's maxima (44 of 1970 here); the
    # candidates, above the field's floor, are the same
    floor = picking.field_floor(inside["score"])
    assert abs(len(ours) - len(inside)) <= 0.01 * len(inside)
    candidates, topaz_candidates = ours[ours["score"] >= floor], inside[inside["score"] >= floor]
    assert len(candidates) >= 10
    for column in ("x_coord", "y_coord"):
        np.testing.assert_array_equal(candidates[column], topaz_candidates[column])
    np.testing.assert_allclose(candidates["score"], topaz_candidates["score"], rtol=1e-6, atol=1e-4)
    images_px = {field: -picking.read_mrc(tmp_path / "mrc" / f"{field}.mrc") for field in images}
    picks = {
        field: picking.refine_centres(images_px[field], p, radius_px * factor)
        for field, p in picks.items()
    }
    # calibrated on field 0's complete centre table, as the pipeline calibrates with one (from
    # its 6 clicks alone the threshold is too strict here: recall 0.47 on field 1, see
    # docs/benchmarks/picking_benchmark.md for the demo), on the candidates above the floor
    candidates = {f: p[p["score"] >= picking.field_floor(p["score"])] for f, p in picks.items()}
    calibration = picking.calibrate(
        [images_px["field 0"]], [candidates["field 0"]], [truths["field 0"]], radius_px * factor,
        4.0, True,
    )  # fmt: skip
    rescored = calibration.rescorer.score(
        images_px["field 1"], candidates["field 1"], radius_px * factor
    )
    kept = rescored[rescored["score"] >= calibration.best["threshold"]][["y_px", "x_px"]]
    assert picking.match_picks(kept.to_numpy(), truths["field 1"], 4.0)["f1"] >= 0.75
    none = picking.extract_picks(
        model, images["field 1"], factor, radius_px=suppression_px, threshold=1e6
    )
    assert none.empty and list(none.columns) == picking.PICK_COLUMNS
    assert picking.refine_centres(images_px["field 1"], none, 4.0).empty

    # the pipeline stage: no pick above the threshold -> an empty table and a logged warning;
    # a picker trained at another picking pixel size stops, naming both sizes
    tiff = tmp_path / "field 1.tif"
    io.write_tiff(tiff, images_px["field 1"], 45.0)
    settings = Picking(
        pixel_nm=45.0, centriole_diameter_nm=400.0, expected_per_field=30,
        saturate_percentile=99.9, gmm_sample=100, epochs=4, epoch_size=25, rescore=True,
        threshold="auto", min_distance_nm=300.0, seed=0, model={},
    )  # fmt: skip
    for trained_nm in (90.0, 45.0):
        io.write_json(
            tmp_path / "threshold.json", {"threshold": 1e6, "picking_pixel_nm": trained_nm}
        )
        stage = partial(
            pick_centrioles, model=model, threshold=tmp_path / "threshold.json",
            image=images["field 1"], field=tiff, factor=factor, pixel_nm=45.0, settings=settings,
            reading=Reading(channel=None, z_stack="max"),
        )  # fmt: skip
        if trained_nm == 45.0:
            with pytest.raises(ValueError, match="trained on fields of 45 nm.* picked at 90 nm"):
                stage(output=tmp_path / "x.tsv", log=tmp_path / "x.log")
            continue
        stage(output=tmp_path / "picks.tsv", log=tmp_path / "pick.log")
        assert io.read_table(tmp_path / "picks.tsv").empty
        assert "WARNING no picks in" in (tmp_path / "pick.log").read_text()
