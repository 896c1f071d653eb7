import re
import shutil
import subprocess
import sys
from collections import Counter
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]
SNAKEMAKE = [sys.executable, "-m", "snakemake"]
LOCAL = ("--cores", "2")


def copy_workflow(workdir: Path) -> Path:
    """The workflow as a user's checkout has it, with the tiny test config as tiny.yaml."""
    workdir.mkdir(parents=True, exist_ok=True)
    for name in ("Snakefile", "config.yaml"):
        shutil.copy(ROOT / name, workdir / name)
    for name in ("workflow", "envs", "slurm"):
        shutil.copytree(ROOT / name, workdir / name)
    shutil.copy(ROOT / "tests/config/tiny.yaml", workdir / "tiny.yaml")
    return workdir


def snakemake(
    workdir: Path,
    *args: str,
    configfiles: tuple[str, ...] = ("tiny.yaml",),
    executor: tuple[str, ...] = LOCAL,
    env: dict | None = None,
    check: bool = True,
) -> subprocess.CompletedProcess:
    result = subprocess.run(
        [*SNAKEMAKE, *executor, "--configfile", *configfiles, *args],
        cwd=workdir,
        capture_output=True,
        text=True,
        env=env,
        timeout=1500,
    )
    if check and result.returncode != 0:
        raise AssertionError(f"snakemake {' '.join(args)} failed:\n{result.stderr[-6000:]}")
    return result


def planned_jobs(workdir: Path, *args: str, **kwargs) -> Counter:
    """(rule, wildcards) of every job a dry run plans."""
    output = snakemake(workdir, "--dry-run", *args, **kwargs).stdout
    jobs = Counter()
    for block in re.split(r"\n(?=(?:local)?rule \w+:)", output):
        match = re.match(r"(?:local)?rule (\w+):", block)
        if match:
            wildcards = re.search(r"\n\s+wildcards: (.*)", block)
            jobs[(match.group(1), wildcards.group(1) if wildcards else "")] += 1
    return jobs


def picking_jobs(modality: str, field: str) -> Counter:
    """The jobs that pick one field and cut its patches."""
    rules = ("convert_to_mrc", "preprocess_for_topaz", "pick_centrioles", "extract_patches")
    return Counter({(rule, f"modality={modality}, field={field}"): 1 for rule in rules})


def new_widefield_field_jobs(field: str) -> Counter:
    """The jobs a new widefield field runs: its picking, restoration and evaluation."""
    return picking_jobs("widefield", field) + Counter(
        {
            ("restore_field", f"field={field}"): 1,
            ("restore_patches", f"field={field}"): 1,
            ("evaluate_field", f"field={field}"): 1,
            ("evaluate_picking", "modality=widefield"): 1,
            ("domain_gap", ""): 1,  # compares all widefield patches with the degraded ones
            ("summarize", ""): 1,
            ("export_bmz", ""): 1,  # the package holds the summary's validation figures
            ("all", ""): 1,
        }
    )


@pytest.fixture(scope="session")
def demo_run(tmp_path_factory) -> Path:
    """The whole DAG on the tiny demo config, run locally on 2 cores."""
    workdir = copy_workflow(tmp_path_factory.mktemp("tiny"))
    snakemake(workdir)
    return workdir
