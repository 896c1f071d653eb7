"""The whole DAG on the tiny config, then the job sets Snakemake plans after changes."""

import json
import os
import shutil
from collections import Counter
from pathlib import Path

import numpy as np
import pandas as pd
import pytest
import tifffile
import yaml
from PIL import Image

import centriole_sr
from centriole_sr import io, picking

from .conftest import copy_workflow, new_widefield_field_jobs, planned_jobs, snakemake

pytestmark = pytest.mark.workflow
RESTORE_RULES = ("restore_field", "restore_patches", "evaluate_field")


def test_picking_finds_the_centrioles(demo_run):
    for modality in ("confocal", "widefield"):
        table = pd.read_csv(demo_run / f"results/evaluation/picking_{modality}.csv")
        overall = table.set_index("field").loc["all"]
        assert overall["recall"] > 0.6, (modality, overall.to_dict())
        assert overall["precision"] > 0.6, (modality, overall.to_dict())


def test_picks_are_ranked_by_the_rescorer_saved_with_the_picker(demo_run):
    """threshold.json holds a rescorer fitted on the labelled fields; each field's picks carry
    its log-odds (recomputed here from the saved rescorer and the field) above the threshold."""
    for modality in ("confocal", "widefield"):
        calibration = io.read_json(demo_run / f"results/picking/{modality}/threshold.json")
        rescorer = picking.Rescorer.from_dict(calibration["rescorer"])
        assert rescorer.centrioles >= picking.MIN_EXAMPLES <= rescorer.unlabelled
        config = yaml.safe_load((demo_run / "config.yaml").read_text())
        pixel_nm = config["optics"][f"{modality}_pixel_nm"]
        radius_px = config["picking"]["centriole_diameter_nm"] / 2 / pixel_nm
        scored = 0
        for path in sorted((demo_run / f"results/picks/{modality}").glob("*.tsv")):
            picks = io.read_table(path)
            field, _ = io.read_field(
                demo_run / f"results/demo/{modality}/{path.stem}.tif", pixel_nm
            )
            assert (picks["score"] >= calibration["threshold"]).all()
            again = rescorer.score(field, picks.assign(score=picks["topaz_score"]), radius_px)
            np.testing.assert_allclose(again["score"], picks["score"], rtol=1e-9)
            scored += len(picks)
        assert scored > 0


def test_network_beats_every_baseline_on_held_out_pairs(demo_run):
    table = pd.read_csv(demo_run / "results/evaluation/heldout.csv")
    baselines = {"bicubic", "richardson_lucy", "wiener"}
    against_confocal = table[table["target"] == "confocal"]
    assert set(against_confocal["method"]) == baselines | {"network", "noise_free_confocal"}
    means = against_confocal.groupby("method")["psnr_db"].mean()
    assert np.isfinite(means).all()
    assert means["network"] > means[list(baselines)].max() + 0.5, means.to_dict()
    # the noisy confocal target caps every method near the noise-free patch's own score
    assert means["network"] < means["noise_free_confocal"] + 1.0, means.to_dict()
    against_truth = table[table["target"] == "noise-free confocal"]
    truth_means = against_truth.groupby("method")["psnr_db"].mean()
    assert set(truth_means.index) == baselines | {"network"}
    # the tiny run trains on 150 x 32 crops only: a smaller lead than the demo's
    assert truth_means["network"] > truth_means[list(baselines)].max() + 1.5, truth_means
    card = yaml.safe_load((demo_run / "results/model/card.json").read_text())
    assert set(table["field"]) == set(card["training"]["val_fields"])


def test_restored_field_is_at_the_confocal_pixel_size(demo_run):
    with tifffile.TiffFile(demo_run / "results/restored/field00.tif") as tif:
        restored = tif.asarray()
        x_resolution = tif.pages.first.tags["XResolution"].value
    widefield = tifffile.imread(demo_run / "results/demo/widefield/field00.tif")
    assert restored.shape == (2 * widefield.shape[0], 2 * widefield.shape[1])
    assert restored.dtype == np.float32 and np.isfinite(restored).all()
    assert x_resolution[0] / x_resolution[1] == pytest.approx(1e7 / 45, rel=1e-4)  # per cm
    assert io.read_field(demo_run / "results/restored/field00.tif")[1] == pytest.approx(45.0)


def test_field_evaluation_compares_with_the_reference(demo_run):
    table = pd.read_csv(demo_run / "results/evaluation/fields/field00.csv")
    scored = table.dropna(subset=["psnr_db"]).set_index("method")
    assert set(scored.index) == {
        "bicubic", "richardson_lucy", "wiener", "network", "confocal_acquisition"
    }  # fmt: skip
    assert (scored["ssim"] > 0).all()
    # the same method names as the held-out table, so that the two can be compared
    heldout = set(pd.read_csv(demo_run / "results/evaluation/heldout.csv")["method"])
    assert heldout - {"noise_free_confocal"} <= set(scored.index)
    summary = pd.read_csv(demo_run / "results/evaluation/summary.csv")
    assert set(summary["dataset"]) == {
        "held-out degraded pairs",
        "held-out degraded pairs, noise-free target",
        "widefield fields",
    }
    # the promise, on whole fields and on the centrioles: the network beats deconvolution
    fields = summary[summary["dataset"] == "widefield fields"].set_index("method")
    classical = fields.loc[["bicubic", "richardson_lucy", "wiener"]]
    for metric in ("psnr_db_mean", "psnr_centrioles_db_mean"):
        assert fields.loc["network", metric] > classical[metric].max() + 2.0, fields[metric]
    assert fields.loc["network", "ssim_mean"] > classical["ssim_mean"].max() + 0.05


def test_every_field_gets_the_checks_without_ground_truth(demo_run):
    for path in sorted((demo_run / "results/evaluation/fields").glob("*.csv")):
        table = pd.read_csv(path).set_index("method")
        assert np.isfinite(table["resolution_nm"]).all(), path
        restorations = table.loc[["bicubic", "richardson_lucy", "wiener", "network"]]
        assert (restorations["consistency_rsp"] > 0.5).all(), path
        assert (restorations["invented_regions"] >= 0).all(), path
        # the trust map: large on centrioles, where the network can go wrong, small elsewhere
        network = table.loc["network"]
        assert 0 < network["trust_spread"] < network["trust_spread_centrioles"], path
        assert restorations.drop(index="network")["trust_spread"].isna().all(), path


def test_verdict_gives_the_margins_and_draws_the_trusted_fields(demo_run):
    verdict = pd.read_csv(demo_run / "results/evaluation/verdict.csv")
    summary = pd.read_csv(demo_run / "results/evaluation/summary.csv")
    fields = summary[summary["dataset"] == "widefield fields"].set_index("method")
    rows = verdict[verdict["dataset"] == "widefield fields"].set_index("method")
    assert sorted(rows.index) == ["bicubic", "richardson_lucy", "wiener"]
    for method, row in rows.iterrows():
        margin = fields.loc["network", "psnr_db_mean"] - fields.loc[method, "psnr_db_mean"]
        assert row["psnr_margin_db"] == pytest.approx(margin)
        assert row["beats"] == (margin > 0 and row["ssim_margin"] > 0)
    log = (demo_run / "logs/evaluation/summary.log").read_text()
    assert log.count("does not beat") == (~verdict["beats"]).sum()  # a warning for each loss
    with Image.open(demo_run / "results/evaluation/verdict.png") as figure:
        assert figure.width > 1000 and figure.height > 500


def test_report_has_every_stage_the_settings_and_the_checks(demo_run, tmp_path):
    snakemake(demo_run, "--report", str(tmp_path / "report.html"))
    report = (tmp_path / "report.html").read_text()
    for category in ("1. Picking", "2. Degradation", "3. Restoration", "4. Gallery",
                     "5. Checks without ground truth", "0. Verdict"):  # fmt: skip
        assert category in report
    assert "consistency_threshold_sigma = 5.0" in report  # the configuration, key by key
    assert "maps/field00.png" in report and "gallery/field00.png" in report
    assert "verdict.png" in report


def test_rerun_does_nothing(demo_run):
    assert planned_jobs(demo_run) == Counter()


def test_new_widefield_field_reruns_only_its_picking_restoration_and_evaluation(demo_run):
    config = yaml.safe_load((demo_run / "tiny.yaml").read_text())
    config["demo"]["widefield_fields"] += 1
    # safe_dump sorts the keys: reordered config keys must not rerun anything either
    (demo_run / "more.yaml").write_text(yaml.safe_dump(config))
    new = "field03"
    assert planned_jobs(demo_run, configfiles=("tiny.yaml", "more.yaml")) == (
        new_widefield_field_jobs(new) + Counter({("simulate_demo", f"field={new}"): 1})
    )


def test_missing_model_or_new_training_setting_retrains_and_rerestores_only(demo_run):
    retrain = Counter(
        {
            ("train_model", ""): 1,
            ("evaluate_heldout", ""): 1,
            ("summarize", ""): 1,
            ("export_bmz", ""): 1,
            ("all", ""): 1,
            **{(rule, f"field=field0{i}"): 1 for i in range(3) for rule in RESTORE_RULES},
        }
    )
    config = yaml.safe_load((demo_run / "tiny.yaml").read_text())
    config["training"]["learning_rate"] = 5e-4
    (demo_run / "slower.yaml").write_text(yaml.safe_dump(config))
    assert planned_jobs(demo_run, configfiles=("tiny.yaml", "slower.yaml")) == retrain
    weights = demo_run / "results/model/weights.pt"
    moved = weights.with_suffix(".moved")
    weights.rename(moved)
    try:
        assert planned_jobs(demo_run) == retrain
    finally:
        moved.rename(weights)


def test_report_is_self_contained_html(demo_run):
    snakemake(demo_run, "--report", "report.html")
    html = (demo_run / "report.html").read_text(errors="replace")
    for expected in ("heldout.csv", "summary.png", "picking_confocal.png", "field00.png"):
        assert expected in html, expected


@pytest.mark.parametrize(
    ("setting", "expected"),
    [
        ("training:\n  epochz: 3\n", ["epochz"]),
        ("training:\n  epochs: many\n", ["'many' is not of type 'integer'", "['epochs']"]),
        ("inputs:\n  z_stack: mean\n", ["'mean' is not one of", "['z_stack']"]),
        ("optics:\n  numerical_aperture: 1.6\n", ["optics.numerical_aperture (1.6) must be"]),
    ],
    ids=["unknown-key", "wrong-type", "unknown-choice", "contradiction"],
)
def test_bad_config_stops_naming_the_key(demo_run, setting, expected):
    (demo_run / "bad.yaml").write_text(setting)
    result = snakemake(demo_run, "--dry-run", configfiles=("tiny.yaml", "bad.yaml"), check=False)
    assert result.returncode != 0
    for text in expected:
        assert text in result.stdout + result.stderr, (result.stdout + result.stderr)[-3000:]


def test_restored_field_can_keep_the_input_type_and_intensity_scale(demo_run, tmp_path):
    from centriole_sr import io
    from centriole_sr.settings import Reading, Restoration
    from centriole_sr.stages.restoration import restore_field

    photons, _ = io.read_field(demo_run / "results/demo/widefield/field00.tif")
    camera = np.clip(np.rint(4 * photons + 100), 0, 65535).astype(np.uint16)
    field = tmp_path / "field00 (camera counts).tif"
    io.write_tiff(field, camera, 90.0)
    model = demo_run / "results/model"
    restoration = {"tile_px": 96, "batch_size": 4, "device": "cpu", "ensemble": 2}
    outputs, trust = {}, {}
    for output_dtype in ("float32", "input"):
        outputs[output_dtype] = tmp_path / f"restored {output_dtype}.tif"
        trust[output_dtype] = tmp_path / f"trust {output_dtype}.tif"
        restore_field(
            image=field, weights=model / "weights.pt", card=model / "card.json", pixel_nm=90.0,
            settings=Restoration(**restoration, output_dtype=output_dtype),
            reading=Reading(channel=None, z_stack="max"), threads=2,
            restored=outputs[output_dtype], trust=trust[output_dtype],
        )  # fmt: skip
    as_float, pixel_nm = io.read_field(outputs["float32"])
    # the trust map follows the restoration's intensity scale
    low, high = np.percentile(camera.astype(np.float32), [1, 99.8])
    np.testing.assert_allclose(
        io.read_field(trust["input"])[0],
        io.read_field(trust["float32"])[0] * (high - low),
        rtol=1e-4,
    )
    assert io.stored_dtype(outputs["input"]) == np.uint16
    as_camera = tifffile.imread(outputs["input"])
    assert pixel_nm == pytest.approx(45.0, rel=1e-4)
    np.testing.assert_array_equal(
        as_camera,
        io.denormalize_percentile(
            as_float, io.percentile_bounds(camera.astype(np.float32)), np.uint16
        ),
    )
    low, high = np.percentile(camera, [1, 99.8])
    assert low - 50 < np.median(as_camera) < high  # on the camera's scale, not 0..1
    assert as_camera.max() > np.median(camera)


def test_reused_picker_picks_new_fields_without_training(demo_run, tmp_path):
    """picking.model.widefield set to a picker trained before: in a new project folder no
    picker is trained for the widefield, and a field costs only its conversion, Topaz
    preprocessing and extraction, giving the same picks as the picker's own run."""
    saved = tmp_path / "saved picker"
    saved.mkdir()
    for name in ("picker.sav", "threshold.json"):
        shutil.copy(demo_run / f"results/picking/widefield/{name}", saved / name)
    workdir = copy_workflow(tmp_path / "new project")
    (workdir / "reuse.yaml").write_text(
        yaml.safe_dump({"picking": {"model": {"widefield": str(saved / "picker.sav")}}})
    )
    configs = ("tiny.yaml", "reuse.yaml")
    planned = planned_jobs(workdir, configfiles=configs)
    assert ("train_picker", "modality=widefield") not in planned
    assert planned[("train_picker", "modality=confocal")] == 1
    picks = "results/picks/widefield/field02.tsv"
    assert planned_jobs(workdir, picks, configfiles=configs) == Counter(
        {
            ("simulate_demo", "field=field02"): 1,
            **{
                (rule, "modality=widefield, field=field02"): 1
                for rule in ("convert_to_mrc", "preprocess_for_topaz", "pick_centrioles")
            },
        }
    )
    snakemake(workdir, "--", picks, configfiles=configs)  # "--": not one more config file
    reused = pd.read_csv(workdir / picks, sep="\t")
    pd.testing.assert_frame_equal(reused, pd.read_csv(demo_run / picks, sep="\t"))
    assert len(reused) > 0


def _edited_package(tmp_path, module: str) -> dict:
    """An environment whose centriole_sr is a copy of the package with one module edited."""
    copy = tmp_path / "package"
    shutil.copytree(Path(centriole_sr.__file__).parent, copy / "centriole_sr")
    with open(copy / "centriole_sr" / module, "a") as source:
        source.write("\n# edited\n")
    return {**os.environ, "PYTHONPATH": str(copy)}


def test_package_edit_reruns_exactly_the_rules_whose_stage_uses_it(demo_run, tmp_path):
    """scoring.py serves the evaluation stage only; restore.py the restoration, evaluation and
    export stages. Each edit reruns those rules' jobs and what depends on their outputs (the
    model package holds the evaluation's summary), no other."""
    evaluation = Counter(
        {
            ("evaluate_picking", "modality=confocal"): 1,
            ("evaluate_picking", "modality=widefield"): 1,
            ("evaluate_heldout", ""): 1,
            **{("evaluate_field", f"field=field0{i}"): 1 for i in range(3)},
            ("summarize", ""): 1,
            ("export_bmz", ""): 1,
            ("all", ""): 1,
        }
    )
    restoration = Counter(
        {(rule, f"field=field0{i}"): 1 for i in range(3) for rule in RESTORE_RULES[:2]}
    )
    unedited = {**os.environ, "PYTHONPATH": str(tmp_path / "unused")}
    assert planned_jobs(demo_run, env=unedited) == Counter()
    assert planned_jobs(demo_run, env=_edited_package(tmp_path / "a", "scoring.py")) == evaluation
    edited = _edited_package(tmp_path / "b", "restore.py")
    assert planned_jobs(demo_run, env=edited) == evaluation + restoration


def test_commands_restore_and_pick_new_fields_as_the_pipeline_does(demo_run, tmp_path):
    """centriole-sr restore and pick, outside Snakemake, on a field the pipeline processed:
    the same restored pixels and the same picks; the picks also as a napari points CSV."""
    from centriole_sr import cli

    field = demo_run / "results/demo/widefield/field01.tif"
    out = tmp_path / "out"
    model = str(demo_run / "results/model")
    assert cli.main(["restore", model, str(field), "-o", str(out), "--tile-px", "96"]) == 0
    same = (("field01.ome.tif", "restored/field01.tif"),
            ("field01.trust.ome.tif", "trust/field01.tif"))  # fmt: skip
    for command_output, pipeline_output in same:
        np.testing.assert_array_equal(
            tifffile.imread(out / command_output),
            tifffile.imread(demo_run / "results" / pipeline_output),
        )
    picker = str(demo_run / "results/picking/widefield")
    (tmp_path / "broken.tif").write_bytes(b"II*\0 not a tiff")
    assert cli.main(["pick", picker, str(field), str(tmp_path / "broken.tif"), "-o", str(out)]) == 1
    assert not (out / "broken.tsv").exists()
    assert cli.main(["pick", str(tmp_path / "no picker"), str(field), "-o", str(out)]) == 101
    assert cli.main(["pick", picker, str(field), "-o", str(out), "--pixel-nm", "45"]) == 101
    expected = pd.read_csv(demo_run / "results/picks/widefield/field01.tsv", sep="\t")
    pd.testing.assert_frame_equal(pd.read_csv(out / "field01.tsv", sep="\t"), expected)
    napari = pd.read_csv(out / "field01.csv")
    assert list(napari.columns) == ["index", "axis-0", "axis-1", "score", "topaz_score"]
    np.testing.assert_array_equal(napari[["axis-0", "axis-1"]], expected[["y_px", "x_px"]])
    pipeline_csv = pd.read_csv(demo_run / "results/picks/widefield/field01.csv")
    pd.testing.assert_frame_equal(napari, pipeline_csv)


def _user_folders(demo_run, root):
    """The tiny demo's fields as a user has them: mixed TIFF endings, labels with blank rows."""
    endings = {"field00": ".tif", "field01": ".TIFF", "field02": ".ome.tif"}
    for modality in ("confocal", "widefield"):
        (root / modality).mkdir(parents=True)
        for field, ending in endings.items():
            source = demo_run / f"results/demo/{modality}/{field}.tif"
            shutil.copy(source, root / modality / f"{field}{ending}")
    labels = (demo_run / "results/demo/labels.tsv").read_text().splitlines()
    (root / "labels.tsv").write_text("\n".join([*labels, "\t\t\t", *labels[1:3], "\t\t\t"]))
    settings = {
        "demo": {"enabled": False},
        "inputs": {key: str(root / key) for key in ("confocal", "widefield")}
        | {"labels": str(root / "labels.tsv")},
        # the tiny config's PSF widths come from the demo's own bead images
        "degradation": {"sigma_source": {"confocal": "optics", "widefield": "optics"}},
    }
    (root / "user.yaml").write_text(yaml.safe_dump(settings))
    return root / "user.yaml"


def test_fields_with_any_tiff_ending_and_labels_with_blank_rows_are_taken(demo_run, tmp_path):
    workdir = copy_workflow(tmp_path / "user project")
    user = _user_folders(demo_run, tmp_path / "data")
    shutil.copy(user, workdir / "user.yaml")
    result = snakemake(workdir, "--dry-run", configfiles=("tiny.yaml", "user.yaml"))
    planned = planned_jobs(workdir, configfiles=("tiny.yaml", "user.yaml"))
    for field in ("field00", "field01", "field02"):
        for modality in ("confocal", "widefield"):
            assert planned[("convert_to_mrc", f"modality={modality}, field={field}")] == 1
    assert "field01.TIFF" in result.stdout and "field02.ome.tif" in result.stdout
    assert "2 blank row(s) dropped" in result.stdout + result.stderr
    empty = tmp_path / "empty"
    empty.mkdir()
    (workdir / "empty.yaml").write_text(yaml.safe_dump({"inputs": {"widefield": str(empty)}}))
    failed = snakemake(workdir, "--dry-run", configfiles=("tiny.yaml", "user.yaml", "empty.yaml"),
                       check=False)  # fmt: skip
    assert failed.returncode != 0
    assert (
        f"{empty}: no fields (*.tif, *.tiff, *.ome.tif, *.ome.tiff" in failed.stdout + failed.stderr
    )


def test_napari_labels_for_the_confocal_only_and_truth_for_some_fields(demo_run, tmp_path):
    """A user's project: confocal labels as napari points files, one per field, none for the
    widefield, truth tables for one field only. The confocal is picked and scored on that
    field; the widefield is not picked, its whole fields are still restored and scored (run
    here for field01 only)."""
    workdir = copy_workflow(tmp_path / "project")
    user = yaml.safe_load(_user_folders(demo_run, tmp_path / "data").read_text())
    table = pd.read_csv(demo_run / "results/demo/labels.tsv", sep="\t")
    napari = tmp_path / "data/labels/confocal"
    napari.mkdir(parents=True)
    for field, rows in table[table["modality"] == "confocal"].groupby("field"):
        points = pd.DataFrame({"axis-0": rows["y_px"], "axis-1": rows["x_px"]})
        points.insert(0, "index", range(len(points)))
        points.to_csv(napari / f"{field}.csv", index=False)
    truth = tmp_path / "data/truth/confocal"
    truth.mkdir(parents=True)
    shutil.copy(demo_run / "results/demo/truth/confocal/field00.tsv", truth)
    reference = tmp_path / "data/reference"
    reference.mkdir()
    shutil.copy(demo_run / "results/demo/confocal_clean/field01.tif", reference)
    user["inputs"] |= {
        "labels": str(napari.parent), "truth": str(truth.parent), "reference": str(reference)
    }  # fmt: skip
    (workdir / "user.yaml").write_text(yaml.safe_dump(user))
    checked = [  # the outputs checked below, not the whole DAG
        "results/evaluation/picking_confocal.csv", "results/evaluation/fields/field01.csv"
    ]  # fmt: skip
    result = snakemake(workdir, "--", *checked, configfiles=("tiny.yaml", "user.yaml"))
    assert "no widefield labels and no picking.model.widefield" in result.stderr
    picks = workdir / "results/picks"
    assert sorted(p.name for p in (picks / "confocal").glob("*.tsv")) == [
        "field00.tsv", "field01.tsv", "field02.tsv"
    ]  # fmt: skip
    assert not (picks / "widefield").exists()
    assert not (workdir / "results/patches/widefield").exists()
    scored = pd.read_csv(workdir / "results/evaluation/picking_confocal.csv")
    assert list(scored["field"]) == ["field00", "all"] and scored["f1"].iloc[0] > 0.5
    assert not (workdir / "results/evaluation/picking_widefield.csv").exists()
    threshold = json.loads((workdir / "results/picking/confocal/threshold.json").read_text())
    assert threshold["source"].endswith(
        "expected, from the clicks on field01, the complete centre tables of field00"
    )
    assert 0 < threshold["rescorer"]["label_frequency"] <= 1
    model = json.loads((workdir / "results/degradation/model.json").read_text())
    assert model["calibration"]["status"] == "not calibrated"
    assert "no widefield picks" in model["calibration"]["reason"]
    assert "calibrated on widefield" in model["parameter_sources"]["peak_photons"]
    fields = pd.read_csv(workdir / "results/evaluation/fields/field01.csv").set_index("method")
    assert fields.loc["network", "psnr_db"] > fields.loc["bicubic", "psnr_db"]
    assert fields["psnr_centrioles_db"].isna().all()
    log = (workdir / "logs/degradation/model.log").read_text()
    assert "the noise is calibrated on whole fields" in log
    # a click added to one file of the folder retrains the confocal picker only
    with (napari / "field00.csv").open("a") as points:
        points.write("99,40.0,40.0\n")
    planned = planned_jobs(workdir, configfiles=("tiny.yaml", "user.yaml"))
    assert planned[("train_picker", "modality=confocal")] == 1
    assert not [job for job in planned if job[0] == "train_picker" and "widefield" in job[1]]


def test_the_demo_models_package_passes_bioimageio_and_restores_as_the_pipeline(demo_run):
    """The export_bmz rule's package of the demo model, through bioimageio.core, offline."""
    from bioimageio.core import (
        create_prediction_pipeline,
        load_model_description,
        predict,
        test_model,
    )

    from centriole_sr import bmz
    from centriole_sr.restore import Restorer

    package = demo_run / "results/model/centriole-sr.bmz.zip"
    summary = test_model(package)
    assert summary.status == "passed", [
        (d.name, [e.msg for e in d.errors]) for d in summary.details if d.status != "passed"
    ]
    field, _ = io.read_field(demo_run / "results/demo/widefield/field00.tif")
    test_in = bmz.test_input(field)
    expected = Restorer.from_dir(demo_run / "results/model", device="cpu").restore(test_in)
    description = load_model_description(package)
    pipeline = create_prediction_pipeline(description, weight_format="torchscript")
    # blockwise, as for any image larger than a block (see docs/outputs.md)
    sample = predict(model=pipeline, inputs=test_in[None, None], blocksize_parameter=0)
    restored = next(iter(sample.members.values())).data.to_numpy()[0, 0]
    assert np.abs(restored - expected).max() < 1e-4
