"""SIGKILL of a whole run during training or restoration: the rerun ends as if uninterrupted.

Each test copies the finished tiny demo run, removes the products of one stage, reruns the
workflow in its own process group and kills the group with SIGKILL (as a power cut or the
OOM killer would) in the middle of that stage. After ``snakemake --unlock`` (a killed
Snakemake leaves its lock behind) ``snakemake --cores 2 --rerun-incomplete`` must finish,
and the stage's products must equal the uninterrupted run's bit for bit.
"""

from __future__ import annotations

import os
import re
import shutil
import signal
import subprocess
import time
from collections import Counter
from collections.abc import Callable
from pathlib import Path

import numpy as np
import pandas as pd
import pytest
import tifffile
import torch

from .conftest import LOCAL, SNAKEMAKE, planned_jobs, snakemake

pytestmark = pytest.mark.workflow


def _copy_run(demo_run: Path, workdir: Path, *stale: str) -> Path:
    """A copy of the finished run without the ``stale`` files and folders."""
    shutil.copytree(demo_run, workdir, symlinks=True)
    for name in stale:
        path = workdir / name
        shutil.rmtree(path) if path.is_dir() else path.unlink()
    return workdir


def _run_and_kill(workdir: Path, kill_point: Callable[[], bool], timeout_s: float = 300) -> None:
    """Run the workflow in a new process group; SIGKILL the group once ``kill_point()``."""
    run = subprocess.Popen(
        [*SNAKEMAKE, *LOCAL, "--configfile", "tiny.yaml"],
        cwd=workdir,
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
        start_new_session=True,
    )
    deadline = time.monotonic() + timeout_s
    try:
        while not kill_point():
            assert run.poll() is None, "the run ended before the kill point"
            assert time.monotonic() < deadline, "the kill point never came"
            time.sleep(0.01)
    finally:
        os.killpg(run.pid, signal.SIGKILL)
        run.wait()


def _log_says(path: Path, text: str) -> Callable[[], bool]:
    return lambda: path.is_file() and text in path.read_text()


def _resume(workdir: Path, *targets: str) -> None:
    snakemake(workdir, "--unlock")
    snakemake(workdir, "--rerun-incomplete", "--", *targets)
    assert planned_jobs(workdir, "--", *targets) == Counter()


def _assert_same_restored_fields(demo_run: Path, workdir: Path) -> None:
    for restored in sorted((demo_run / "results/restored").glob("*.tif")):
        rerun = workdir / "results/restored" / restored.name
        np.testing.assert_array_equal(tifffile.imread(rerun), tifffile.imread(restored))


def test_training_killed_mid_run_resumes_from_its_checkpoint(demo_run, tmp_path):
    workdir = _copy_run(demo_run, tmp_path / "run", "results/model", "logs/model/train.log")
    train_log = workdir / "logs/model/train.log"
    _run_and_kill(workdir, _log_says(train_log, "epoch 40/"))
    assert not (workdir / "results/model/weights.pt").exists()
    assert (workdir / "results/model/resume/checkpoint.pt").is_file()

    _resume(workdir, "results/model/weights.pt")  # equal weights restore equally (test below)
    resumed = re.search(r"resuming from \S+checkpoint.pt after epoch (\d+)", train_log.read_text())
    assert resumed and int(resumed.group(1)) >= 40, train_log.read_text()[:2000]
    weights = [torch.load(run / "results/model/weights.pt") for run in (demo_run, workdir)]
    assert weights[0].keys() == weights[1].keys()
    assert all(torch.equal(weights[0][name], weights[1][name]) for name in weights[0])
    history = [
        pd.read_csv(run / "results/model/history.tsv", sep="\t") for run in (demo_run, workdir)
    ]
    pd.testing.assert_frame_equal(
        history[0].drop(columns="seconds"), history[1].drop(columns="seconds")
    )


def test_restoration_killed_mid_field_reruns_to_the_same_image(demo_run, tmp_path):
    restored = sorted((demo_run / "results/restored").glob("*.tif"))
    stale = [f"results/restored/{path.name}" for path in restored]
    stale += [f"logs/restored/{path.stem}.log" for path in restored]
    workdir = _copy_run(demo_run, tmp_path / "run", *stale)
    first_log = workdir / "logs/restored" / f"{restored[0].stem}.log"
    _run_and_kill(workdir, _log_says(first_log, " on cpu, "))  # field and model loaded
    done = [path.name for path in (workdir / "results/restored").glob("*.tif")]
    assert len(done) < len(restored), "killed after the restoration stage"

    _resume(workdir)
    _assert_same_restored_fields(demo_run, workdir)
