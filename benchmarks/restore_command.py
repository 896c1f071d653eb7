"""`centriole-sr restore` against the pipeline's restore_field stage, many small fields against one
large one, and the peak memory of a very large field.

Run from the project root (after a pipeline run, to time the trained model in results/model;
otherwise an untrained network of the configured architecture, which takes as long):

    .venv/bin/python benchmarks/restore_command.py [--field-px 2048] [--small 100] [--large-px 8192]

Every measurement is a fresh process, as a user runs it: the command on one ``--field-px``² field
and the restore_field stage function on the same field (both with model loading and TIFF I/O;
the median of ``--repeats`` alternated runs);
the command on ``--small`` fields of 512² in one call and on one field of the same pixels; the
command on a ``--large-px``² field with its peak resident memory (ru_maxrss of the child).
Prints a Markdown table and writes docs/benchmarks/restore_command.md.
"""

from __future__ import annotations

import argparse
import os
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import numpy as np
import pandas as pd
import yaml
from _page import Page
from restoration_speed import model_files, test_field

from centriole_sr.io import write_tiff

ROOT = Path(__file__).resolve().parents[1]
COMMAND = [sys.executable, "-m", "centriole_sr.cli", "restore"]
STAGE = """
import sys
from centriole_sr.settings import Reading, Restoration
from centriole_sr.stages.restoration import restore_field
weights, card, image, output, pixel_nm, tile_px, batch_size, threads, members = sys.argv[1:]
restore_field(
    image=image, weights=weights, card=card, pixel_nm=float(pixel_nm),
    settings=Restoration(tile_px=int(tile_px), batch_size=int(batch_size), device="cpu",
                         output_dtype="float32", ensemble=int(members)),
    reading=Reading(channel=None, z_stack="max"), threads=int(threads), restored=output,
    trust=output.replace(".tif", ".trust.tif"),
)
"""


def run(arguments: list[str]) -> tuple[float, float]:
    """Wall-clock seconds and peak resident memory (GiB) of one child process."""
    with tempfile.TemporaryFile() as errors:
        start = time.perf_counter()
        child = subprocess.Popen(arguments, stdout=subprocess.DEVNULL, stderr=errors)
        _, status, usage = os.wait4(child.pid, 0)
        seconds = time.perf_counter() - start
        child.returncode = os.waitstatus_to_exitcode(status)
        if child.returncode:
            errors.seek(0)
            message = errors.read().decode(errors="replace")[-2000:]
            raise SystemExit(f"{' '.join(map(str, arguments[:4]))} failed:\n{message}")
    return seconds, usage.ru_maxrss / 2**20


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--field-px", type=int, default=2048)
    parser.add_argument("--small", type=int, default=100, help="number of 512² fields")
    parser.add_argument("--large-px", type=int, default=8192)
    parser.add_argument("--repeats", type=int, default=5, help="runs of each on --field-px")
    args = parser.parse_args()
    config = yaml.safe_load((ROOT / "config.yaml").read_text())
    pixel_nm = config["optics"]["widefield_pixel_nm"]
    tiling = config["restoration"]
    threads = os.cpu_count() or 1
    page = Page("restore_command", "Restore command")
    rows = []
    with tempfile.TemporaryDirectory() as scratch:
        folder = Path(scratch)
        weights, card, origin = model_files(config, folder)
        model_dir = Path(weights).parent
        options = ["--device", "cpu", "--tile-px", str(tiling["tile_px"]),
                   "--batch-size", str(tiling["batch_size"]),
                   "--ensemble", str(tiling["ensemble"])]  # fmt: skip
        field = folder / "field.tif"
        write_tiff(field, test_field(args.field_px), pixel_nm)
        megapixels = args.field_px**2 / 1e6
        stage = [sys.executable, "-c", STAGE, str(weights), str(card), str(field),
                 str(folder / "stage.tif"), str(pixel_nm), str(tiling["tile_px"]),
                 str(tiling["batch_size"]), str(threads), str(tiling["ensemble"])]  # fmt: skip
        command = [*COMMAND, str(model_dir), str(field), "-o", str(folder / "a"), *options]
        # alternated, the median of --repeats: one run of each moves by 10-15 % here
        times = [(run(stage)[0], run(command)[0]) for _ in range(args.repeats)]
        stage_s, command_s = (float(np.median(column)) for column in zip(*times, strict=True))
        rows += [
            {"case": f"restore_field stage, {args.field_px}²", "s": stage_s,
             "s_per_MP": stage_s / megapixels},
            {"case": f"centriole-sr restore, {args.field_px}²", "s": command_s,
             "s_per_MP": command_s / megapixels, "vs stage": command_s / stage_s},
        ]  # fmt: skip
        small = folder / "small"
        small.mkdir()
        side = int(round(512 * np.sqrt(args.small)))
        for index in range(args.small):
            write_tiff(small / f"f{index:03d}.tif", test_field(512, seed=index), pixel_nm)
        write_tiff(folder / "same_pixels.tif", test_field(side), pixel_nm)
        many_s, _ = run([*COMMAND, str(model_dir), str(small), "-o", str(folder / "b"), *options])
        one_s, _ = run([*COMMAND, str(model_dir), str(folder / "same_pixels.tif"), "-o",
                        str(folder / "c"), *options])  # fmt: skip
        small_mp = args.small * 512**2 / 1e6
        rows += [
            {"case": f"{args.small} fields of 512², one call", "s": many_s,
             "s_per_MP": many_s / small_mp, "vs one field": many_s / one_s},
            {"case": f"one field of {side}² (same pixels)", "s": one_s,
             "s_per_MP": one_s / (side**2 / 1e6)},
        ]  # fmt: skip
        large = folder / "large.tif"
        write_tiff(large, test_field(args.large_px), pixel_nm)
        large_s, peak_gib = run([*COMMAND, str(model_dir), str(large), "-o", str(folder / "d"),
                                 *options])  # fmt: skip
        large_mp = args.large_px**2 / 1e6
        rows.append({"case": f"{args.large_px}² field", "s": large_s,
                     "s_per_MP": large_s / large_mp, "peak_GiB": peak_gib})  # fmt: skip
    page.show(f"model: {origin}; {threads} CPU cores; tiles {tiling['tile_px']} px\n")
    page.show(pd.DataFrame(rows).to_markdown(index=False, floatfmt=".2f"))
    page.write()


if __name__ == "__main__":
    main()
