"""The tiny demo's images as a user's acquisitions (demo off): the workflow through
`snakemake --profile slurm` on a real single-node Slurm, then the jobs each kind of change reruns.

The fields are saved as a microscope would: OME-TIFF z-stacks of two channels, the centrioles
in channel "centrin" and sharpest where brightest (their maximum projection is the demo field),
so that the real-world reading (channel by name, z projection) is part of every run here.

Where Slurm cannot run (not root, no apt-get), the acquisitions are processed locally instead,
the rerun tests still run and the Slurm-only tests are skipped with the reason.
"""

import os
import shutil
import subprocess
import time
from collections import Counter
from pathlib import Path

import numpy as np
import pandas as pd
import pytest
import tifffile
import torch
import yaml

from centriole_sr import io

from .conftest import (
    LOCAL,
    SNAKEMAKE,
    copy_workflow,
    new_widefield_field_jobs,
    picking_jobs,
    planned_jobs,
    snakemake,
)
from .local_slurm import SLURM, LocalSlurm, unavailable_reason

pytestmark = pytest.mark.workflow

ACQUIRED = ("tiny.yaml", "acquired.yaml")
LOCAL_RULES = {"all"}
FIELDS = ("field00", "field01", "field02")
DOWNSTREAM_OF_TRAINING = Counter(
    {
        ("train_model", ""): 1,
        ("evaluate_heldout", ""): 1,
        ("summarize", ""): 1,
        ("export_bmz", ""): 1,
        ("all", ""): 1,
        **{
            (rule, f"field={field}"): 1
            for field in FIELDS
            for rule in ("restore_field", "restore_patches", "evaluate_field")
        },
    }
)


@pytest.fixture(scope="module")
def cluster(tmp_path_factory):
    """A running local Slurm, or None (with the reason printed) where it cannot run."""
    reason = unavailable_reason()
    if reason:
        print(f"no local Slurm, running locally: {reason}")
        yield None
        return
    slurm = LocalSlurm(tmp_path_factory.mktemp("slurm"))
    slurm.start()
    try:
        yield slurm
    finally:
        slurm.stop()


def _require(cluster):
    if cluster is None:
        pytest.skip(f"no local Slurm: {unavailable_reason()}")


def _save_as_microscope_file(field: Path, target: Path) -> None:
    """The field as a 3-slice, 2-channel OME-TIFF whose channel "centrin" projects onto it."""
    image, pixel_nm = io.read_field(field)
    slices = np.stack([image - 1, image, image - 2])  # the maximum projection is the field
    other = np.random.default_rng(0).random(slices.shape, np.float32)
    tifffile.imwrite(
        target,
        np.stack([other, slices], axis=1),
        ome=True,
        metadata={"axes": "ZCYX", "PhysicalSizeX": pixel_nm / 1000, "PhysicalSizeXUnit": "µm",
                  "PhysicalSizeY": pixel_nm / 1000, "PhysicalSizeYUnit": "µm",
                  "Channel": {"Name": ["DAPI", "centrin"]}},
    )  # fmt: skip


@pytest.fixture(scope="module")
def acquisitions(demo_run, tmp_path_factory) -> Path:
    """A workdir whose inputs are the demo's fields, as a user's acquisitions (demo off)."""
    workdir = copy_workflow(tmp_path_factory.mktemp("acquired"))
    demo = demo_run / "results/demo"
    for modality in ("confocal", "widefield"):
        (workdir / "acquisitions" / modality).mkdir(parents=True)
        for field in sorted((demo / modality).glob("*.tif")):
            _save_as_microscope_file(field, workdir / "acquisitions" / modality / field.name)
    for source, target in [("confocal_clean", "reference"), ("truth", "truth"), ("beads", "beads")]:
        shutil.copytree(demo / source, workdir / "acquisitions" / target)
    shutil.copy(demo / "labels.tsv", workdir / "acquisitions/labels.tsv")
    inputs = {key: f"acquisitions/{key}" for key in ("confocal", "widefield", "truth", "reference")}
    inputs |= {"labels": "acquisitions/labels.tsv", "channel": "centrin", "z_stack": "max"}
    beads = {modality: f"acquisitions/beads/{modality}" for modality in ("confocal", "widefield")}
    (workdir / "acquired.yaml").write_text(
        yaml.safe_dump(
            {"demo": {"enabled": False}, "inputs": inputs, "degradation": {"beads": beads}}
        )
    )
    return workdir


@pytest.fixture(scope="module")
def first_plan(acquisitions) -> Counter:
    return planned_jobs(acquisitions, configfiles=ACQUIRED)


@pytest.fixture(scope="module")
def acquired(acquisitions, first_plan, cluster) -> Path:
    """The acquisitions processed through Slurm (or locally)."""
    snakemake(acquisitions, configfiles=ACQUIRED, executor=SLURM if cluster else LOCAL)
    return acquisitions


def _submitted_rules(cluster, after_job_id: int = 0) -> Counter:
    jobs = cluster.jobs()
    jobs = jobs[jobs["job_id"].astype(int) > after_job_id]
    return Counter(
        comment.removeprefix("rule_").split("_wildcards_")[0] for comment in jobs["comment"]
    )


def _planned_rules(planned: Counter) -> Counter:
    rules = Counter()
    for (rule, _), count in planned.items():
        if rule not in LOCAL_RULES:
            rules[rule] += count
    return rules


def _mtimes(workdir: Path, *folders: str) -> dict[Path, int]:
    return {
        path: path.stat().st_mtime_ns
        for folder in folders
        for path in (workdir / "results" / folder).rglob("*")
        if path.is_file()
    }


def test_every_job_went_through_sbatch_and_completed(acquired, first_plan, cluster):
    _require(cluster)
    jobs = cluster.jobs()
    assert _submitted_rules(cluster) == _planned_rules(first_plan)
    assert (jobs["state"] == "COMPLETED").all(), jobs[jobs["state"] != "COMPLETED"]
    accounted = cluster.accounted_jobs().set_index("job_id")
    assert (accounted.loc[jobs["job_id"], "state"] == "COMPLETED").all()
    # training and whole-field restoration asked Slurm for a GPU
    gpu_jobs = jobs[jobs["gres"].str.contains("gpu:1")]["comment"]
    assert sorted(gpu_jobs) == sorted(
        ["rule_train_model"] + [f"rule_restore_field_wildcards_{field}" for field in FIELDS]
    )
    assert len(list((acquired / "logs/slurm").rglob("*.log"))) == len(jobs)  # one log per job


def test_outputs_equal_the_local_demo_run(acquired, demo_run):
    for modality in ("confocal", "widefield"):
        for field in FIELDS:
            name = f"results/picks/{modality}/{field}.tsv"
            pd.testing.assert_frame_equal(
                pd.read_csv(acquired / name, sep="\t"), pd.read_csv(demo_run / name, sep="\t")
            )
    weights = [
        torch.load(run / "results/model/weights.pt", weights_only=True)
        for run in (acquired, demo_run)
    ]
    assert weights[0].keys() == weights[1].keys()
    for name, tensor in weights[0].items():
        assert torch.equal(tensor, weights[1][name]), name
    for field in FIELDS:
        name = f"results/restored/{field}.tif"
        np.testing.assert_array_equal(
            tifffile.imread(acquired / name), tifffile.imread(demo_run / name)
        )
    # the demo run also scores against noise-free targets (real data has none) and tunes
    # Richardson-Lucy on them: compare the rows that depend on neither
    tables = [pd.read_csv(run / "results/evaluation/heldout.csv") for run in (acquired, demo_run)]
    methods = ["network", "bicubic", "wiener"]
    compared = [t[(t["target"] == "confocal") & t["method"].isin(methods)] for t in tables]
    assert set(compared[0]["method"]) == set(methods)
    pd.testing.assert_frame_equal(*(table.reset_index(drop=True) for table in compared))


def test_no_change_runs_nothing(acquired):
    assert planned_jobs(acquired, configfiles=ACQUIRED) == Counter()


def _add_field(workdir: Path, modality: str, source: str, name: str) -> list[Path]:
    """Copy acquisition `source` as a new field `name` (with its truth and reference)."""
    copies = [(f"{modality}/{source}.tif", f"{modality}/{name}.tif")]
    copies.append((f"truth/{modality}/{source}.tsv", f"truth/{modality}/{name}.tsv"))
    if modality == "widefield":
        copies.append((f"reference/{source}.tif", f"reference/{name}.tif"))
    added = []
    for old, new in copies:
        added.append(workdir / "acquisitions" / new)
        shutil.copy(workdir / "acquisitions" / old, added[-1])
    return added


def test_new_confocal_field_reruns_its_picking_then_training_and_all_restorations(acquired):
    new = "field03 (new)"
    added = _add_field(acquired, "confocal", "field02", new)
    try:
        # its patches are not cut: training degrades the whole field, and only labelled
        # fields' patches calibrate the degradation
        expected_picking = picking_jobs("confocal", new)
        del expected_picking[("extract_patches", f"modality=confocal, field={new}")]
        assert planned_jobs(acquired, configfiles=ACQUIRED) == (
            expected_picking
            + DOWNSTREAM_OF_TRAINING
            + Counter(
                {
                    ("degrade_field", f"field={new}"): 1,
                    ("domain_gap", ""): 1,
                    ("evaluate_picking", "modality=confocal"): 1,
                }
            )
        )
    finally:
        for path in added:
            path.unlink()


def test_optics_change_reruns_degradation_training_restoration_not_picking(acquired):
    (acquired / "optics.yaml").write_text("optics:\n  numerical_aperture: 1.3\n")
    planned = planned_jobs(acquired, configfiles=(*ACQUIRED, "optics.yaml"))
    assert planned == DOWNSTREAM_OF_TRAINING + Counter(
        {
            # the bead fits start from the optics' PSF width
            **{("fit_beads", f"modality={modality}"): 1 for modality in ("confocal", "widefield")},
            ("degradation_model", ""): 1,
            ("degradation_examples", ""): 1,
            ("domain_gap", ""): 1,
            **{("degrade_field", f"field={field}"): 1 for field in FIELDS},
        }
    )


def test_changed_script_reruns_its_rule_and_downstream(acquired):
    script = acquired / "workflow/scripts/evaluate_heldout.py"
    original, status = script.read_text(), script.stat()
    script.write_text(original + "# edited\n")  # Snakemake compares the script's mtime
    try:
        # the held-out evaluation tunes the Richardson-Lucy iterations the field evaluation uses
        assert planned_jobs(acquired, configfiles=ACQUIRED) == Counter(
            {
                ("evaluate_heldout", ""): 1,
                **{("evaluate_field", f"field={field}"): 1 for field in FIELDS},
                ("summarize", ""): 1,
                ("export_bmz", ""): 1,
                ("all", ""): 1,
            }
        )
    finally:
        script.write_text(original)
        os.utime(script, ns=(status.st_atime_ns, status.st_mtime_ns))
    assert planned_jobs(acquired, configfiles=ACQUIRED) == Counter()


def test_new_widefield_field_runs_only_its_picking_restoration_and_evaluation(acquired, cluster):
    new = "field03 (copy)"
    _add_field(acquired, "widefield", "field00", new)
    kept = ("picks", "patches", "degradation/pairs", "model", "restored")
    # the model package holds the evaluation summary, which the new field changes
    package = acquired / "results/model/centriole-sr.bmz.zip"
    before = _mtimes(acquired, *kept)
    assert before.pop(package) and len(before) > 10
    planned = planned_jobs(acquired, configfiles=ACQUIRED)
    assert planned == new_widefield_field_jobs(new)
    last_job = int(cluster.jobs()["job_id"].astype(int).max()) if cluster else 0
    snakemake(acquired, configfiles=ACQUIRED, executor=SLURM if cluster else LOCAL)
    if cluster:
        assert _submitted_rules(cluster, after_job_id=last_job) == _planned_rules(planned)
    after = _mtimes(acquired, *kept)
    assert after.pop(package) > 0
    assert after.items() >= before.items()  # nothing of the other fields was remade
    # the same image, the same model: the same restoration
    np.testing.assert_array_equal(
        tifffile.imread(acquired / f"results/restored/{new}.tif"),
        tifffile.imread(acquired / "results/restored/field00.tif"),
    )
    assert planned_jobs(acquired, configfiles=ACQUIRED) == Counter()


def test_cancelled_training_job_is_detected_and_rerun_completes(acquired, cluster):
    _require(cluster)
    (acquired / "slower.yaml").write_text("training:\n  learning_rate: 0.0005\n")
    configfiles = (*ACQUIRED, "slower.yaml")
    finished = _mtimes(acquired, "picks", "patches", "degradation/pairs")
    command = [*SNAKEMAKE, *SLURM, "--configfile", *configfiles]
    run = subprocess.Popen(command, cwd=acquired, stderr=subprocess.PIPE, text=True)
    deadline = time.monotonic() + 300
    while time.monotonic() < deadline:
        jobs = cluster.jobs()
        training = jobs[(jobs["comment"] == "rule_train_model") & (jobs["state"] == "RUNNING")]
        if len(training):
            break
        time.sleep(1)
    else:
        run.kill()
        pytest.fail("the training job never ran")
    time.sleep(5)  # well into training
    subprocess.run(["scancel", training["job_id"].iloc[0]], check=True)
    stderr = run.communicate(timeout=600)[1]
    assert run.returncode != 0
    assert "Error in rule train_model" in stderr and "CANCELLED" in stderr, stderr[-3000:]
    model = "results/model/weights.pt"
    assert not (acquired / model).exists()  # no half-written model

    # the rerun up to the model: what comes after it reruns as after any training change
    snakemake(acquired, "--", model, configfiles=configfiles, executor=SLURM)
    assert planned_jobs(acquired, "--", model, configfiles=configfiles) == Counter()
    assert _mtimes(acquired, "picks", "patches", "degradation/pairs") == finished  # nothing lost
    assert (acquired / model).stat().st_mtime_ns > max(finished.values())
