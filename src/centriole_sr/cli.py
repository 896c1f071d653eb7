"""The ``centriole-sr`` command: what users do after training, without Snakemake.

    centriole-sr restore MODEL_DIR INPUT... -o OUT_DIR   restore widefield images
    centriole-sr pick PICKER_DIR INPUT... -o OUT_DIR     pick centrioles with a trained picker
    centriole-sr export-bmz MODEL_DIR OUT.zip --test-image WIDEFIELD.tif
                                                         a BioImage Model Zoo package

INPUT may be files, folders (their images) or glob patterns. The exit status is the number of
inputs that failed (at most 100), or 101 when nothing could start (arguments, model).
"""

from __future__ import annotations

import argparse
import glob
import sys
from collections.abc import Callable, Sequence
from pathlib import Path

from centriole_sr import io
from centriole_sr.settings import Reading

CANNOT_START = 101
MOST_FAILED = 100


class _Parser(argparse.ArgumentParser):
    def error(self, message: str) -> None:  # type: ignore[override]
        self.print_usage(sys.stderr)
        self.exit(CANNOT_START, f"{self.prog}: error: {message}\n")


def expand_inputs(inputs: Sequence[str]) -> list[Path]:
    """Files as given, the fields of folders (:func:`io.find_fields`), and the files glob
    patterns match; in order, without repeats. A pattern that matches nothing raises
    :class:`io.InputError` naming it."""
    found: list[Path] = []
    for item in inputs:
        path = Path(item)
        if path.is_dir():
            matches = list(io.find_fields(path).values())
        elif path.exists():
            matches = [path]
        else:
            matches = sorted(Path(p) for p in glob.glob(item))
            if not matches:
                raise io.InputError(f"{item}: no such file, folder or matching files")
        found += [p for p in matches if p not in found]
    return found


def _reading_options(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("-o", "--output", required=True, type=Path, help="output folder")
    parser.add_argument(
        "--channel", default=None,
        help="the centriole channel of multi-channel files: an index from 0 or its OME name",
    )  # fmt: skip
    parser.add_argument(
        "--z-stack", choices=("max", "sharpest"), default="max",
        help="how a z-stack becomes a 2D image: max projection or the sharpest slice",
    )  # fmt: skip
    parser.add_argument(
        "--pixel-nm", type=float, default=None,
        help="pixel size of input files that do not say theirs (nm)",
    )  # fmt: skip


def _reading(args: argparse.Namespace) -> Reading:
    channel = int(args.channel) if args.channel and args.channel.isdigit() else args.channel
    return Reading(channel=channel, z_stack=args.z_stack)


def build_parser() -> argparse.ArgumentParser:
    """The command line's parser, with one subcommand per task."""
    parser = _Parser(prog="centriole-sr", description=__doc__.split("\n\n")[0])
    commands = parser.add_subparsers(dest="command", required=True, parser_class=_Parser)
    restore = commands.add_parser("restore", help="restore widefield images with a trained model")
    restore.add_argument("model_dir", type=Path, help="folder with weights.pt and card.json")
    restore.add_argument("inputs", nargs="+", help="image files, folders or glob patterns")
    _reading_options(restore)
    restore.add_argument(
        "--resample", action="store_true",
        help="resample images of another pixel size to the model's instead of stopping",
    )  # fmt: skip
    restore.add_argument("--device", choices=("auto", "cpu", "cuda"), default="auto")
    restore.add_argument("--tile-px", type=int, default=256, help="tile side (widefield pixels)")
    restore.add_argument("--batch-size", type=int, default=4, help="tiles per batch")
    restore.add_argument(
        "--output-dtype", choices=("float32", "input"), default="float32",
        help="float32 (normalised) or input (the input's pixel type and intensity scale)",
    )  # fmt: skip
    restore.add_argument(
        "--ensemble", type=int, default=3, choices=range(1, 9), metavar="N",
        help="restore N rotated and mirrored copies (1-8): the mean, and their spread as the "
        "trust map <name>.trust.ome.tif (as the pipeline does; 1: one restoration, no map)",
    )  # fmt: skip
    restore.set_defaults(run=run_restore)
    pick = commands.add_parser("pick", help="pick centrioles with a trained Topaz picker")
    pick.add_argument("picker_dir", type=Path, help="folder with picker.sav and threshold.json")
    pick.add_argument("inputs", nargs="+", help="image files, folders or glob patterns")
    _reading_options(pick)
    pick.add_argument("--threads", type=int, default=2, help="Topaz's scoring threads")
    pick.set_defaults(run=run_pick)
    export = commands.add_parser("export-bmz", help="write a BioImage Model Zoo package")
    export.add_argument("model_dir", type=Path, help="folder with weights.pt and card.json")
    export.add_argument("package", type=Path, help="the package to write (.zip)")
    export.add_argument(
        "--test-image", required=True, type=Path,
        help="a widefield image of the model's pixel size: the test input is cut from it",
    )  # fmt: skip
    export.add_argument(
        "--summary", type=Path, default=None,
        help="the run's results/evaluation/summary.csv, for the validation figures",
    )  # fmt: skip
    export.set_defaults(run=run_export_bmz)
    return parser


def _each_input(
    inputs: Sequence[Path], work: Callable[[Path, Callable[[int, int], None]], None]
) -> int:
    """Run ``work(path, tile_progress)`` on every input with a progress bar (files, ETA); a
    failure is reported and the others go on. Returns how many failed."""
    from tqdm import tqdm

    failed = 0
    with tqdm(inputs, unit="file", desc="images", file=sys.stderr) as files:
        for path in files:
            files.set_postfix_str(path.name)
            tiles = tqdm(unit="tile", desc="  tiles", leave=False, file=sys.stderr)

            def progress(done: int, total: int, tiles: tqdm = tiles) -> None:
                tiles.total = total
                tiles.update(done - tiles.n)

            try:
                work(path, progress)
            except Exception as error:  # a bad input must not stop the others
                failed += 1
                reason = str(error) if isinstance(error, io.InputError) else repr(error)
                files.write(f"FAILED {path}: {reason}", file=sys.stderr)
            finally:
                tiles.close()
    return failed


def run_restore(args: argparse.Namespace) -> int:
    """``centriole-sr restore``: every input restored into OUT_DIR/<name>.ome.tif, with its
    trust map <name>.trust.ome.tif unless ``--ensemble 1``."""
    from centriole_sr.api import Restorer

    inputs = expand_inputs(args.inputs)
    restorer = Restorer.from_dir(
        args.model_dir, device=args.device, tile_px=args.tile_px, batch_size=args.batch_size
    )
    reading = _reading(args)

    def restore(path: Path, progress: Callable[[int, int], None]) -> None:
        name = io.field_name(path)
        trust_output = args.output / f"{name}.trust.ome.tif" if args.ensemble > 1 else None
        restorer.restore_file(
            path, args.output / f"{name}.ome.tif", pixel_nm=args.pixel_nm,
            reading=reading, resample=args.resample, output_dtype=args.output_dtype,
            trust_output=trust_output, members=args.ensemble, progress=progress,
        )  # fmt: skip

    failed = _each_input(inputs, restore)
    print(f"{len(inputs) - failed} of {len(inputs)} restored into {args.output}", file=sys.stderr)
    return failed


def run_pick(args: argparse.Namespace) -> int:
    """``centriole-sr pick``: OUT_DIR/<name>.tsv (the pipeline's table) and <name>.csv (a
    napari points layer) per input, each input's log in OUT_DIR/logs/<name>.log."""
    from centriole_sr.api import Picker

    inputs = expand_inputs(args.inputs)
    picker = Picker.from_dir(args.picker_dir)
    if args.pixel_nm is not None and abs(args.pixel_nm / picker.pixel_nm - 1) > 0.02:
        raise io.InputError(
            f"--pixel-nm {args.pixel_nm:g} differs from the {picker.pixel_nm:g} nm the picker "
            f"in {args.picker_dir} was trained on; retrain it for this pixel size"
        )
    reading = _reading(args)

    def pick(path: Path, progress: Callable[[int, int], None]) -> None:
        stem = io.field_name(path)
        picker.pick_file(
            path, args.output / f"{stem}.tsv", napari=args.output / f"{stem}.csv",
            reading=reading, threads=args.threads, log=args.output / "logs" / f"{stem}.log",
        )  # fmt: skip

    failed = _each_input(inputs, pick)
    print(f"{len(inputs) - failed} of {len(inputs)} picked into {args.output}", file=sys.stderr)
    return failed


def run_export_bmz(args: argparse.Namespace) -> int:
    """``centriole-sr export-bmz``: the model as a bioimage.io package."""
    from centriole_sr.api import Restorer
    from centriole_sr.bmz import export_bmz

    restorer = Restorer.from_dir(args.model_dir, device="cpu")
    field, _ = io.read_field(args.test_image, restorer.widefield_pixel_nm)
    export_bmz(restorer, args.package, field, summary=args.summary)
    print(f"{args.package} written", file=sys.stderr)
    return 0


def main(argv: Sequence[str] | None = None) -> int:
    """Run the command line; returns the exit status."""
    args = build_parser().parse_args(argv)
    try:
        failed = args.run(args)
    except io.InputError as error:
        print(f"centriole-sr {args.command}: {error}", file=sys.stderr)
        return CANNOT_START
    return min(failed, MOST_FAILED)


if __name__ == "__main__":
    sys.exit(main())
