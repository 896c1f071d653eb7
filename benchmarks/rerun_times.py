"""Wall time of a full run, of a rerun with nothing changed and of a rerun after one new
widefield field, with `--cores 2` and (with --slurm) through `--profile slurm` on a local Slurm.

The demo's simulated fields are used as a user's acquisitions (demo off), with one widefield
field held back and added after the full run, as a new acquisition would be. Run from the
project root (about 25 min on 2 cores with --slurm; as root for the local Slurm):

    .venv/bin/python benchmarks/rerun_times.py [--config config.yaml] [--slurm]

Prints a Markdown table and writes it to
docs/benchmarks/rerun_times.md.
"""

from __future__ import annotations

import argparse
import shutil
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import pandas as pd
import yaml
from _page import write_page

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from tests.conftest import SNAKEMAKE, copy_workflow  # noqa: E402
from tests.local_slurm import SLURM, LocalSlurm, unavailable_reason  # noqa: E402

ACQUISITIONS = {"confocal": "confocal", "widefield": "widefield", "confocal_clean": "reference"}


def new_field_files(new: str) -> tuple[str, ...]:
    """The files of widefield field `new` under the acquisitions folder."""
    return (f"widefield/{new}.tif", f"reference/{new}.tif", f"truth/widefield/{new}.tsv")


def make_acquisitions(config: Path, folder: Path) -> str:
    """Simulate the demo's fields into `folder` (a user's layout); hold back the last widefield
    field in folder/new; return its name."""
    with tempfile.TemporaryDirectory() as scratch:
        workdir = copy_workflow(Path(scratch) / "demo")
        shutil.copy(config, workdir / "benchmark.yaml")
        # every job but the simulation and the labels is downstream of these two
        _snakemake(workdir, ("--cores", "2"), "--omit-from", "convert_to_mrc", "degradation_model")
        demo = workdir / "results/demo"
        for source, target in ACQUISITIONS.items():
            shutil.copytree(demo / source, folder / target)
        shutil.copytree(demo / "truth", folder / "truth")
        shutil.copy(demo / "labels.tsv", folder / "labels.tsv")
    new = sorted((folder / "widefield").glob("*.tif"))[-1].stem
    for relative in new_field_files(new):
        (folder / "new" / relative).parent.mkdir(parents=True, exist_ok=True)
        (folder / relative).rename(folder / "new" / relative)
    return new


def _snakemake(workdir: Path, executor: tuple[str, ...], *args: str) -> float:
    """Run Snakemake with the benchmark config; its wall time in seconds."""
    start = time.perf_counter()
    result = subprocess.run(
        [*SNAKEMAKE, *executor, "--configfile", "benchmark.yaml", *args],
        cwd=workdir,
        capture_output=True,
        text=True,
    )
    if result.returncode != 0:
        raise SystemExit(f"snakemake failed in {workdir}:\n{result.stderr[-4000:]}")
    return time.perf_counter() - start


def time_runs(config: Path, acquisitions: Path, new: str, workdir: Path, executor) -> dict:
    """Full run, no-op rerun and rerun with the held-back field, in a fresh workdir."""
    copy_workflow(workdir)
    settings = yaml.safe_load(config.read_text())
    settings["demo"] = {"enabled": False}
    settings["inputs"] = {
        key: str(acquisitions / key) for key in ("confocal", "widefield", "truth", "reference")
    }
    settings["inputs"]["labels"] = str(acquisitions / "labels.tsv")
    (workdir / "benchmark.yaml").write_text(yaml.safe_dump(settings))
    times = {"full run": _snakemake(workdir, executor)}
    times["no change"] = _snakemake(workdir, executor)
    for relative in new_field_files(new):
        shutil.copy(acquisitions / "new" / relative, acquisitions / relative)
    try:
        times["one new widefield field"] = _snakemake(workdir, executor)
    finally:
        for relative in new_field_files(new):
            (acquisitions / relative).unlink()
    return times


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--config", type=Path, default=ROOT / "config.yaml")
    parser.add_argument("--slurm", action="store_true", help="also through a local Slurm")
    args = parser.parse_args()
    with tempfile.TemporaryDirectory(prefix="rerun_times_") as scratch:
        scratch = Path(scratch)
        new = make_acquisitions(args.config.resolve(), scratch / "acquisitions")
        columns = {
            "--cores 2": time_runs(
                args.config, scratch / "acquisitions", new, scratch / "local", ("--cores", "2")
            )
        }
        if args.slurm:
            reason = unavailable_reason()
            if reason:
                raise SystemExit(f"no local Slurm: {reason}")
            cluster = LocalSlurm(scratch / "slurm")
            cluster.start()
            try:
                columns["--profile slurm"] = time_runs(
                    args.config, scratch / "acquisitions", new, scratch / "slurm_run", SLURM
                )
            finally:
                cluster.stop()
    table = pd.DataFrame(columns).rename_axis("run")
    for column in table.columns:
        table[f"{column}: % of full run"] = 100 * table[column] / table.loc["full run", column]
    page: list[str] = []
    if args.slurm:
        overhead = table.loc["full run", "--profile slurm"] / table.loc["full run", "--cores 2"]
        page.append(f"Slurm full run / local full run: {overhead:.2f}")
    page.append(table.to_markdown(floatfmt=".1f"))
    print("\n".join(page))
    write_page("rerun_times", "Rerun times", "\n\n".join(page))


if __name__ == "__main__":
    main()
