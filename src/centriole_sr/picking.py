"""Centriole picking with Topaz (topaz-em 0.3.20), through its commands and its scoring.

Topaz sees each field downsampled by an integer ``factor`` (Fourier cropping in
``topaz preprocess``), so that a centriole fits the receptive field of its network.
Downsampled pixel ``k`` samples original pixel ``k * factor`` (pixel 0 on pixel 0):
:func:`to_topaz_px` and :func:`from_topaz_px` are the one place where coordinates
move between the two grids, and Topaz tables (x = column) are converted to and from
(y, x) here only. Every Topaz call logs its command and output through :mod:`logging`.
"""

from __future__ import annotations

import argparse
import collections
import contextlib
import importlib
import io
import logging
import os
import shlex
import subprocess
import sys
import tempfile
from collections.abc import Callable, Iterable, Iterator, Mapping, Sequence
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import Any

import mrcfile
import numpy as np
import pandas as pd
from scipy import ndimage, special
from scipy.optimize import linear_sum_assignment
from scipy.spatial import cKDTree
from scipy.spatial.distance import cdist

from centriole_sr.io import atomic_path
from centriole_sr.patches import patch_origin_px
from centriole_sr.settings import Picking

PathLike = str | os.PathLike
log = logging.getLogger("centriole_sr.picking")
topaz_log = logging.getLogger("centriole_sr.topaz")
PICK_COLUMNS = ["y_px", "x_px", "score"]
TARGET_COLUMNS = ["image_name", "x_coord", "y_coord"]
CURVE_COLUMNS = ["threshold", "precision", "recall", "f1"]

# Extraction at this Topaz score keeps every local maximum of a field (Topaz's scores lie
# within a few hundred of 0): the field's candidates, for the rescorer and its floor.
EVERY_MAXIMUM_SCORE = -1e4
# A field's candidates scoring below its median Topaz score plus this many median absolute
# deviations are background, not scored: most local maxima are background, so the floor
# follows the picker's scale on each field, on fields it trained on (where the clicked
# centrioles score far above the others) and on new ones alike. 4: on the demo (5 picker
# seeds, 10 clicks) 5 left some pickers' widefield centrioles without a candidate (14 of 40
# on a field; held-out F1 at the best threshold 0.928 against 0.944), 2 let in background
# the rescorer passes (widefield F1 at its threshold 0.875 against 0.914), 12 dropped dim
# widefield centrioles (recall 0.57).
FLOOR_MADS = 4.0

# ``topaz preprocess --sample`` by default (picking.gmm_sample): the GMM normalisation is fitted
# on one pixel in this many. Fitting all pixels of a 2048² field takes 40 s of CPU (12 EM fits of
# up to 100 iterations); one in 100 (42,000 pixels) under 1 s, and its mean and spread move by
# < 0.5 %.
GMM_SAMPLE = 100

# ``topaz extract -p``: the field is scored in patches of this side (plus the network's receptive
# field as overlap). Topaz scores patches under torch.no_grad, a whole image with autograd on:
# patched, a 2048² field costs 44 instead of 54 CPU seconds and 2.4 instead of 6.5 GB (one
# 2048 patch), with identical picks.
SCORE_PATCH_PX = 1024

# Non-maximum suppression works in vectorised rounds while more than 1 / this of a field's
# pixels are open, then one pixel at a time: 2048² demo fields at every maximum in 3.2-3.8 s
# (8: 3.9-4.4 s; Topaz's loop 10 s).
OPEN_SHARE_ROUNDS = 4

# Runs one Topaz command in another process (training: long, and it patches Topaz's sampler).
_TOPAZ_LAUNCHER = """
import sys
from centriole_sr.picking import topaz_main
topaz_main(sys.argv[1], sys.argv[3:], None if sys.argv[2] == "none" else int(sys.argv[2]))
"""


# What some of Topaz's messages mean here, logged after the first line that starts with the key.
TOPAZ_NOTES = {
    "WARNING: no coordinates are observed with": (
        "Topaz warns when the labels do not reach the last 30 % of the fields' width and "
        "height: it checks for coordinates scaled wrongly. With a few clicks per field that is "
        "expected and harmless; the labels are on the fields' own pixel grid, downsampled as "
        "the fields are"
    ),
    "Setting pi =": (
        "pi is the share of label-disc pixels Topaz expects among all pixels, from "
        "picking.expected_per_field centrioles per field; if the fields hold fewer centrioles "
        "(small fields, cropped cells), lower picking.expected_per_field to what a field holds"
    ),
}


class TopazError(RuntimeError):
    """A Topaz command failed; the message quotes the command and the end of its log."""


def downsample_factor(pixel_nm: float, picking_pixel_nm: float) -> int:
    """Integer factor that brings a field's pixels near the picking pixel size (>= 1)."""
    if pixel_nm <= 0 or picking_pixel_nm <= 0:
        raise ValueError(f"pixel sizes must be > 0 nm, got {pixel_nm} and {picking_pixel_nm}")
    return max(1, round(picking_pixel_nm / pixel_nm))


def label_radius_px(centriole_diameter_nm: float, pixel_nm: float, factor: int) -> int:
    """Half a centriole's diameter in downsampled (Topaz) pixels, at least 1: the radius of
    the positive disc that ``topaz train`` draws around each label."""
    return max(1, round(centriole_diameter_nm / 2 / (pixel_nm * factor)))


def suppression_radius_px(centriole_diameter_nm: float, pixel_nm: float, factor: int) -> int:
    """A centriole's diameter in downsampled pixels, at least 1: ``topaz extract``'s
    non-maximum suppression radius. Half of it leaves rings of picks around bright spots."""
    return max(1, round(centriole_diameter_nm / (pixel_nm * factor)))


def fluorescence_to_topaz(image: np.ndarray, saturate_percentile: float = 100.0) -> np.ndarray:
    """Saturate the brightest pixels of a fluorescence field, then negate it for Topaz.

    Topaz's pretrained pickers learned dark particles on a light background (cryo-EM);
    centrioles are bright on dark. Negated, the pretrained weights start close to a spot
    detector and a few hundred updates fit them (F1 about 0.9 instead of 0.2-0.5 on the demo).
    Saturating at ``saturate_percentile`` keeps very bright aggregates from outscoring dim
    centrioles on brightness alone, so the picker ranks by shape (confocal demo F1 0.59 -> 0.83).
    """
    image = np.asarray(image, dtype=np.float32)
    if saturate_percentile < 100.0:
        image = np.minimum(image, np.percentile(image, saturate_percentile))
    return -image


def to_topaz_px(coord_px: np.ndarray | float, factor: int) -> np.ndarray | float:
    """Original-pixel coordinate -> coordinate in the field downsampled by ``factor``."""
    return np.divide(coord_px, factor)


def from_topaz_px(coord_topaz: np.ndarray | float, factor: int) -> np.ndarray | float:
    """Coordinate in the field downsampled by ``factor`` -> original-pixel coordinate."""
    return np.multiply(coord_topaz, factor)


def write_mrc(path: PathLike, image: np.ndarray) -> None:
    """Write a 2D image as float32 MRC (what ``topaz train`` reads), atomically."""
    with atomic_path(path) as tmp:
        with mrcfile.new(tmp, overwrite=True) as mrc:
            mrc.set_data(np.ascontiguousarray(image, dtype=np.float32))


def read_mrc(path: PathLike) -> np.ndarray:
    """Read an MRC image as a float32 array."""
    with mrcfile.open(path, permissive=True) as mrc:
        return np.array(mrc.data, dtype=np.float32)


def topaz_main(command: str, argv: Sequence[str], seed: int | None = None) -> None:
    """Run ``topaz <command> *argv`` in this process, as the ``topaz`` program runs it (the
    command module's own arguments and main), importing only that command: ``topaz`` itself
    imports all of its ~20 commands first, 2.5 s more per call.

    Topaz has no seed option: with a ``seed``, every generator it draws from is seeded first:
    Python's, NumPy's and PyTorch's global ones (model initialisation, minibatch order, the
    GMM's pixel sample), numpy.random.default_rng() (crop sampling and flips in
    topaz/utils/data/memory_mapped_data.py, otherwise seeded from the OS: each call gets the
    next child of the seed), and, for training, the augmentation sampler that seeds itself
    from the process id (topaz/utils/data/sampler.py). With these, training and
    preprocessing are reproducible. The generators' states, ``numpy.random.default_rng``,
    the sampler and PyTorch's thread count are restored after.
    """
    import random
    import types

    import torch

    # Topaz draws from NumPy's legacy global generator: it is the one to seed and restore.
    saved = (random.getstate(), np.random.get_state(), torch.get_rng_state())  # noqa: NPY002
    threads, unseeded_rng = torch.get_num_threads(), np.random.default_rng
    sampler = None
    try:
        if seed is not None:
            random.seed(seed)
            np.random.seed(seed)  # noqa: NPY002
            torch.manual_seed(seed)
            children = np.random.SeedSequence(seed)
            np.random.default_rng = lambda s=None: unseeded_rng(
                children.spawn(1)[0] if s is None else s
            )
            if command == "train":  # the sampler imports torchvision: 2 s others skip
                import topaz.utils.data.sampler as sampler

                sampler.os = types.SimpleNamespace(getpid=lambda: seed)
        module = importlib.import_module("topaz.commands." + command)
        parser = argparse.ArgumentParser(prog="topaz " + command, fromfile_prefix_chars="@")
        module.add_arguments(parser)
        module.main(parser.parse_args(list(argv)))
    finally:
        random.setstate(saved[0])
        np.random.set_state(saved[1])  # noqa: NPY002
        torch.set_rng_state(saved[2])
        torch.set_num_threads(threads)
        np.random.default_rng = unseeded_rng
        if sampler is not None:
            sampler.os = os


class _TopazOutput:
    """Topaz's output, line by line, to the logger ``topaz`` with TOPAZ_NOTES; its last 15
    lines kept for an error message."""

    def __init__(self) -> None:
        self.tail: collections.deque[str] = collections.deque(maxlen=15)
        self.noted: set[str] = set()

    def line(self, line: str) -> None:
        self.tail.append(line)
        topaz_log.info("%s", line)
        for start, note in TOPAZ_NOTES.items():
            if line.lstrip("# ").startswith(start) and start not in self.noted:
                self.noted.add(start)
                log.info("note on Topaz's line above: %s", note)


class _LineWriter(io.TextIOBase):
    """A text stream that hands each complete line to ``line``."""

    def __init__(self, line: Callable[[str], None]) -> None:
        self._line, self._pending = line, ""

    def write(self, text: str) -> int:
        *lines, self._pending = (self._pending + text).split("\n")
        for line in lines:
            self._line(line)
        return len(text)

    def flush(self) -> None:
        if self._pending:
            self._line(self._pending)
            self._pending = ""


@contextlib.contextmanager
def _printing_to(output: _TopazOutput) -> Iterator[None]:
    """What Topaz prints in this process, to ``output`` line by line."""
    writer = _LineWriter(output.line)
    try:
        with contextlib.redirect_stdout(writer), contextlib.redirect_stderr(writer):
            yield
    finally:
        writer.flush()


def run_topaz(args: Sequence[str], *, seed: int | None = None, in_process: bool = False) -> None:
    """Run ``topaz *args`` (:func:`topaz_main`), logging the command and each line it prints
    (logger ``topaz``): in another Python process, or with ``in_process`` in this one, which
    saves starting Python and PyTorch again (2 s a call).

    Raises :class:`TopazError` quoting the command and its last lines of output on failure.
    """
    shown = shlex.join(["topaz", *args]) + ("" if seed is None else f"  # seeded with {seed}")
    log.info("$ %s", shown)
    output = _TopazOutput()
    if in_process:
        try:
            with _printing_to(output):
                topaz_main(args[0], args[1:], seed)
        except (Exception, SystemExit) as error:
            raise TopazError(
                f"topaz {args[0]} failed ({type(error).__name__}: {error}): {shown}\n"
                "its last lines of output:\n" + "\n".join(output.tail)
            ) from error
        return
    seed_arg = "none" if seed is None else str(int(seed))
    command = [sys.executable, "-c", _TOPAZ_LAUNCHER, args[0], seed_arg, *args[1:]]
    with subprocess.Popen(
        command, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True, errors="replace"
    ) as process:
        assert process.stdout is not None
        for line in process.stdout:
            output.line(line.rstrip("\n"))
    if process.returncode != 0:
        raise TopazError(
            f"topaz {args[0]} failed (exit {process.returncode}): {shown}\n"
            "its last lines of output:\n" + "\n".join(output.tail)
        )


def preprocess(
    mrc_path: PathLike,
    out_dir: PathLike,
    factor: int,
    *,
    sample: int = GMM_SAMPLE,
    seed: int = 0,
) -> Path:
    """Downsample (Fourier crop) and normalise one MRC field with ``topaz preprocess``.

    A field whose sides are not multiples of ``factor`` loses its last rows/columns so that
    downsampled pixel ``k`` is exactly original pixel ``k * factor``. The GMM normalisation is
    fitted on one pixel in ``sample`` (``--sample``), drawn with NumPy's generator seeded by
    ``seed``, so that it is deterministic; ``sample=1`` fits every pixel. Returns the path of
    ``out_dir/<name>.mrc``.
    """
    if sample < 1:
        raise ValueError(f"sample must be >= 1, got {sample}")
    mrc_path, out_dir = Path(mrc_path).resolve(), Path(out_dir).resolve()
    if mrc_path.parent == out_dir:
        raise ValueError(f"{mrc_path}: the output folder must differ from the input's folder")
    out_dir.mkdir(parents=True, exist_ok=True)
    image = read_mrc(mrc_path)
    height, width = (side - side % factor for side in image.shape)
    with tempfile.TemporaryDirectory(dir=out_dir, prefix=".crop") as staging:
        source = mrc_path
        if (height, width) != image.shape:
            source = Path(staging) / mrc_path.name
            write_mrc(source, image[:height, :width])
        args = ["preprocess", "-s", str(factor), "--sample", str(sample), "-j", "1"]
        run_topaz([*args, "-o", str(out_dir), str(source)], seed=seed, in_process=True)
    return out_dir / f"{mrc_path.stem}.mrc"


def labels_to_targets(labels: pd.DataFrame, factor: int) -> pd.DataFrame:
    """Clicked centres (field, x_px, y_px in original pixels) -> a Topaz coordinates table.

    Topaz builds its target masks on whole pixels, so coordinates are rounded on its grid.
    """
    return pd.DataFrame(
        {
            "image_name": labels["field"].astype(str).to_numpy(),
            "x_coord": np.rint(to_topaz_px(labels["x_px"].to_numpy(float), factor)).astype(int),
            "y_coord": np.rint(to_topaz_px(labels["y_px"].to_numpy(float), factor)).astype(int),
        },
        columns=TARGET_COLUMNS,
    )


def train_picker(
    images: Mapping[str, PathLike],
    targets: pd.DataFrame,
    out_dir: PathLike,
    *,
    radius_px: int,
    num_particles_per_image: int,
    num_epochs: int = 4,
    epoch_size: int = 50,
    model: str = "resnet8",
    minibatch_size: int = 64,
    pretrained: bool = True,
    seed: int = 0,
    threads: int = 2,
) -> Path:
    """Train a Topaz picker on preprocessed fields; return the last model.

    ``images`` maps field names (the ``image_name`` of ``targets``) to preprocessed MRC files;
    ``radius_px`` and ``targets`` are in downsampled pixels. Topaz trains positive-unlabelled
    (GE-binomial) when the labels are fewer than ``num_particles_per_image`` per field, and
    positive-negative when they mark that many, as on completely labelled fields. ``topaz
    train`` saves one model per epoch as ``out_dir/model_epoch{N}.sav``; the last epoch's is
    returned. ``pretrained`` starts from the cryo-EM resnet8 weights shipped inside topaz
    (nothing is downloaded); from scratch, a few hundred updates do not learn spots.
    """
    missing = sorted(set(targets["image_name"]) - set(images))
    if missing:
        raise ValueError(f"targets name field(s) without an image: {', '.join(missing)}")
    out_dir = Path(out_dir).resolve()
    out_dir.mkdir(parents=True, exist_ok=True)
    for old in out_dir.glob("model_epoch*.sav"):
        old.unlink()
    # Topaz reads a folder in directory order (which varies from folder to folder, and with it
    # the sampling) and splits file lists on white space: give it a sorted list of links with
    # plain names, image000.mrc, image001.mrc, ...
    staged_name = {field: f"image{index:03d}" for index, field in enumerate(sorted(images))}
    with tempfile.TemporaryDirectory(prefix="topaz_train_") as staging:
        image_list = pd.DataFrame(
            {
                "image_name": list(staged_name.values()),
                "path": [str(Path(staging) / f"{name}.mrc") for name in staged_name.values()],
            }
        )
        for field, link in zip(staged_name, image_list["path"], strict=True):
            Path(link).symlink_to(Path(images[field]).resolve())
        list_path = Path(staging) / "images.txt"
        image_list.to_csv(list_path, sep="\t", index=False)
        targets_path = Path(staging) / "targets.txt"
        staged_targets = targets.assign(image_name=targets["image_name"].map(staged_name))
        staged_targets[TARGET_COLUMNS].to_csv(targets_path, sep="\t", index=False)
        args = [
            "train",
            "--train-images", str(list_path),
            "--train-targets", str(targets_path),
            "-n", str(num_particles_per_image),
            "-r", str(radius_px),
            "--model", model,
            "--pretrained" if pretrained else "--no-pretrained",
            "--minibatch-size", str(minibatch_size),
            "--num-epochs", str(num_epochs),
            "--epoch-size", str(epoch_size),
            "--num-workers", "0",
            "-j", str(threads),
            "--save-prefix", str(out_dir / "model"),
            "-o", str(out_dir / "training_curve.tsv"),
        ]  # fmt: skip
        run_topaz(args, seed=seed)
    saved = sorted(out_dir.glob("model_epoch*.sav"), key=lambda p: int(p.stem.split("epoch")[-1]))
    if not saved:
        raise TopazError(f"topaz train saved no model in {out_dir}; see the log above")
    return saved[-1]


def topaz_scores(model_path: PathLike, image_path: PathLike, threads: int = 1) -> np.ndarray:
    """Topaz's score map of one preprocessed field (log-odds of a particle centre per
    downsampled pixel), as ``topaz extract -p SCORE_PATCH_PX`` scores it, in patches without
    autograd: on the GPU where there is one, else on ``threads`` CPU threads (PyTorch's
    count restored after), the network's weights in channels-last order (oneDNN's fast
    convolutions: a 2048² field in 23 instead of 38 s on 2 cores; scores within 1e-6 of
    their size of Topaz's own)."""
    import torch
    from topaz.model.factory import load_model
    from topaz.model.utils import predict_in_patches

    use_cuda = torch.cuda.is_available()
    model = load_model(str(model_path))
    model.eval()
    model.fill()
    model = model.to(memory_format=torch.channels_last)
    if use_cuda:
        model.cuda()
    image = torch.from_numpy(read_mrc(image_path))[None, None]
    previous = torch.get_num_threads()
    torch.set_num_threads(threads)
    try:
        with torch.inference_mode():
            scores = predict_in_patches(
                model, image, SCORE_PATCH_PX + 2 * (model.width // 2), use_cuda=use_cuda
            )
    finally:
        torch.set_num_threads(previous)
    return np.asarray(scores[0, 0], np.float32)


def suppress_non_maxima(
    scores: np.ndarray, radius_px: int, threshold: float
) -> tuple[np.ndarray, np.ndarray]:
    """(y, x) and score of the maxima that Topaz's greedy non-maximum suppression keeps:
    from the highest score down, each pixel scoring >= ``threshold`` not within ``radius_px``
    of one kept before it. Highest score first.

    Topaz's loop visits every such pixel in Python (10 s for a 2048² field at
    EVERY_MAXIMUM_SCORE). Here, while more than 1 / OPEN_SHARE_ROUNDS of the pixels are open,
    each round keeps the open pixels that top every open pixel within the radius (greedy
    keeps them: every higher neighbour is already suppressed) and closes their discs; the
    pixels still open are then taken one by one from the highest down. Of equal scores the
    later pixel (row by row) goes first. Topaz's own loop also wraps discs that cross the
    left or right edge onto the next row's first pixels; that is not copied.
    """
    offsets = np.arange(-radius_px, radius_px + 1)
    footprint = offsets[:, None] ** 2 + offsets[None, :] ** 2 <= radius_px**2
    disc_dy, disc_dx = (np.nonzero(footprint)[axis] - radius_px for axis in (0, 1))
    flat = np.asarray(scores, np.float32).ravel()
    # ranks: unique, ordered as the scores; float32 is exact below 2**24 pixels and faster
    rank = np.empty(flat.size, np.float32 if flat.size < 2**24 else np.float64)
    rank[np.argsort(flat, kind="stable")] = np.arange(flat.size)
    rank = rank.reshape(np.shape(scores))
    height, width = rank.shape
    open_ = (flat >= np.float32(threshold)).reshape(rank.shape)
    kept = np.zeros_like(open_)
    while open_.sum() > open_.size // OPEN_SHARE_ROUNDS:
        ranks = np.where(open_, rank, -1)
        disc_max = ndimage.maximum_filter(ranks, footprint=footprint, mode="constant", cval=-1)
        tops = open_ & (ranks == disc_max)
        kept |= tops
        top_y, top_x = np.nonzero(tops)
        for dy, dx in zip(disc_dy, disc_dx, strict=True):  # close the tops' discs
            y, x = top_y + dy, top_x + dx
            inside = (y >= 0) & (y < height) & (x >= 0) & (x < width)
            open_[y[inside], x[inside]] = False
    last = np.flatnonzero(open_)
    for index in last[np.argsort(-rank.ravel()[last], kind="stable")]:
        y, x = divmod(int(index), width)
        if open_[y, x]:
            kept[y, x] = True
            top, left = max(y - radius_px, 0), max(x - radius_px, 0)
            bottom, right = min(y + radius_px + 1, height), min(x + radius_px + 1, width)
            disc = footprint[
                top - y + radius_px : bottom - y + radius_px,
                left - x + radius_px : right - x + radius_px,
            ]
            open_[top:bottom, left:right] &= ~disc
    yx = np.argwhere(kept)
    yx = yx[np.argsort(-rank[kept], kind="stable")]
    return yx, flat.reshape(rank.shape)[yx[:, 0], yx[:, 1]]


def extract_picks(
    model_path: PathLike,
    image_path: PathLike,
    factor: int,
    *,
    radius_px: int,
    threshold: float,
    threads: int = 1,
) -> pd.DataFrame:
    """Pick one preprocessed field as ``topaz extract`` picks it; (y_px, x_px, score) in
    ORIGINAL pixels, the picks scoring >= ``threshold`` (Topaz's score, compared in float32)
    after greedy suppression within ``radius_px`` downsampled pixels. Greedy suppression
    runs from the highest score down, so a lower threshold leaves every pick above it
    unchanged. Sorted by score, highest first.
    """
    scores = topaz_scores(model_path, image_path, threads)
    yx, kept = suppress_non_maxima(scores, radius_px, threshold)
    log.info(
        "%s scored by %s (Topaz): %d maxima >= %g, %d px apart",
        image_path, model_path, len(kept), threshold, radius_px,
    )  # fmt: skip
    return pd.DataFrame(
        {
            "y_px": from_topaz_px(yx[:, 0].astype(float), factor),
            "x_px": from_topaz_px(yx[:, 1].astype(float), factor),
            "score": kept.astype(float),
        },
        columns=PICK_COLUMNS,
    )


def merge_duplicates(picks: pd.DataFrame, min_distance_px: float) -> pd.DataFrame:
    """Keep, of picks closer than ``min_distance_px``, the higher-scoring one (greedy)."""
    picks = picks.sort_values("score", ascending=False, kind="stable").reset_index(drop=True)
    centres = picks[["y_px", "x_px"]].to_numpy(float)
    tree = cKDTree(centres)
    kept = np.zeros(len(picks), bool)
    suppressed = np.zeros(len(picks), bool)
    for index in range(len(picks)):
        if suppressed[index]:
            continue
        kept[index] = True
        suppressed[tree.query_ball_point(centres[index], min_distance_px - 1e-9)] = True
    return picks[kept].reset_index(drop=True)


def drop_border_picks(
    picks: pd.DataFrame, shape: tuple[int, int], half_size_px: int
) -> pd.DataFrame:
    """Drop picks whose ``2 * half_size_px`` square crop (cut as in patches.py) leaves the field."""
    size_px = 2 * half_size_px
    inside = np.ones(len(picks), bool)
    for column, side in zip(("y_px", "x_px"), shape, strict=True):
        origin = np.array([patch_origin_px(c, size_px) for c in picks[column]], dtype=int)
        inside &= (origin >= 0) & (origin + size_px <= side)
    return picks[inside].reset_index(drop=True)


def matched_pairs(
    picks_yx: np.ndarray, truth_yx: np.ndarray, radius_px: float
) -> tuple[np.ndarray, np.ndarray]:
    """One-to-one matching of picks to true centres within ``radius_px`` (optimal assignment):
    the indices of the matched picks and of their true centres."""
    picks_yx = np.asarray(picks_yx, float).reshape(-1, 2)
    truth_yx = np.asarray(truth_yx, float).reshape(-1, 2)
    if not (len(picks_yx) and len(truth_yx)):
        return np.zeros(0, int), np.zeros(0, int)
    distance = cdist(picks_yx, truth_yx)
    allowed = distance <= radius_px
    # Forbidden pairs cost more than any set of allowed ones: the assignment first
    # maximises the number of matches, then minimises their total distance.
    cost = np.where(allowed, distance, (radius_px + 1) * (min(distance.shape) + 1))
    rows, cols = linear_sum_assignment(cost)
    kept = allowed[rows, cols]
    return rows[kept], cols[kept]


def scores_from_counts(tp: int, fp: int, fn: int) -> dict[str, float]:
    """tp, fp, fn with precision, recall and f1 (0 where undefined)."""
    precision = tp / max(tp + fp, 1)
    recall = tp / max(tp + fn, 1)
    f1 = 2 * precision * recall / (precision + recall) if tp else 0.0
    return {"tp": tp, "fp": fp, "fn": fn, "precision": precision, "recall": recall, "f1": f1}


def pooled_scores(counts: Iterable[Mapping[str, float]]) -> dict[str, float]:
    """:func:`scores_from_counts` of tp, fp and fn summed over fields (e.g. over the results
    of :func:`match_picks` for each field)."""
    counts = list(counts)
    return scores_from_counts(*(int(sum(c[key] for c in counts)) for key in ("tp", "fp", "fn")))


def match_picks(picks_yx: np.ndarray, truth_yx: np.ndarray, radius_px: float) -> dict[str, float]:
    """Counts of :func:`matched_pairs`: tp, fp, fn, precision, recall and f1 (0 where
    undefined)."""
    tp = len(matched_pairs(picks_yx, truth_yx, radius_px)[0])
    fp, fn = len(np.reshape(picks_yx, (-1, 2))) - tp, len(np.reshape(truth_yx, (-1, 2))) - tp
    return scores_from_counts(tp, fp, fn)


def precision_recall_curve(
    picks_by_field: Sequence[pd.DataFrame],
    truth_by_field: Sequence[np.ndarray],
    radius_px: float,
    candidates_per_centre: int = 4,
) -> pd.DataFrame:
    """Precision, recall and F1 over fields pooled, of the picks scoring >= each threshold.

    The thresholds tried, highest first, are the scores of the best ``candidates_per_centre``
    picks per true centre (pooled over fields): below them precision is under
    ``1 / candidates_per_centre`` and F1 cannot be best, and thousands of low-scoring
    candidates would each cost one matching per field.
    """
    picks_by_field = [
        p.sort_values("score", ascending=False, kind="stable") for p in picks_by_field
    ]
    truth_by_field = [np.asarray(t, float).reshape(-1, 2) for t in truth_by_field]
    scores = np.concatenate([p["score"].to_numpy(float) for p in picks_by_field] + [[]])
    count = candidates_per_centre * max(sum(len(t) for t in truth_by_field), 1)
    thresholds = np.unique(scores)[::-1][:count]
    rows = []
    for threshold in thresholds:
        pooled = pooled_scores(
            match_picks(
                picks[picks["score"] >= threshold][["y_px", "x_px"]].to_numpy(float),
                truth_yx,
                radius_px,
            )
            for picks, truth_yx in zip(picks_by_field, truth_by_field, strict=True)
        )
        rows.append({"threshold": threshold, **pooled})
    return pd.DataFrame(rows, columns=CURVE_COLUMNS)


def best_threshold(curve: pd.DataFrame) -> dict[str, float]:
    """The curve's point of highest F1 (the highest such threshold on ties)."""
    if curve.empty:
        return {"threshold": float("inf"), "precision": 0.0, "recall": 0.0, "f1": 0.0}
    return {k: float(v) for k, v in curve.loc[curve["f1"].idxmax()].items()}


def _window(
    image: np.ndarray, centre_yx: Sequence[float], reach: int
) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """The part of ``image`` within ``reach`` pixels of the pixel nearest ``centre_yx`` (cut at
    the border), with the y and x coordinates of its pixels."""
    nearest = np.rint(np.asarray(centre_yx, float)).astype(int)
    low = np.maximum(nearest - reach, 0)
    high = np.minimum(nearest + reach + 1, image.shape)
    yy, xx = np.mgrid[low[0] : high[0], low[1] : high[1]]
    return image[low[0] : high[0], low[1] : high[1]], yy, xx


def refine_centres(image: np.ndarray, picks: pd.DataFrame, radius_px: float) -> pd.DataFrame:
    """Move each pick to the intensity centroid of the field within ``radius_px`` of it.

    Topaz scores whole downsampled pixels and often peaks on one end of a barrel; the
    centroid (above the disc's smoothed minimum, iterated three times so that the disc
    follows the centre) lands on the centriole's centre of mass at sub-pixel precision
    (demo confocal: F1 at 150 nm 0.81 -> 0.83, the same as at 250 nm without it).
    The image is smoothed by a Gaussian of ``radius_px / 4`` first; picks within
    ``radius_px`` of the border use the part of the disc inside the field.
    """
    smooth = ndimage.gaussian_filter(np.asarray(image, np.float32), radius_px / 4)
    reach = int(np.ceil(radius_px))
    centres = picks[["y_px", "x_px"]].to_numpy(float).copy()
    for centre in centres:
        for _ in range(3):
            window, yy, xx = _window(smooth, centre, reach)
            disc = (yy - centre[0]) ** 2 + (xx - centre[1]) ** 2 <= radius_px**2
            weight = np.where(disc, window - window[disc].min(), 0.0)
            if weight.sum() <= 0:
                break
            centre[:] = (weight * yy).sum() / weight.sum(), (weight * xx).sum() / weight.sum()
    return picks.assign(y_px=centres[:, 0], x_px=centres[:, 1])


# Shape features of a pick (:func:`ring_profile`): the mean intensity of rings around it,
# relative to that of the central disc. Ring edges in centriole radii; the background is the
# median of the annulus between BACKGROUND_RADII. A centriole's light falls off within ~1.5
# radii; a diffuse blob's, even out of focus and saturated to a centriole's peak, reaches 2-3.
RING_EDGES_RADII = (0.0, 0.75, 1.5, 2.25, 3.0)
BACKGROUND_RADII = (5.5, 8.0)
# Ratios are clipped to this range: a candidate on background (its disc near 0) gets the
# limits, not a ratio of noise.
RING_RATIO_RANGE = (-1.0, 2.0)
# Fewest labelled centrioles, and fewest unlabelled candidates, to fit a rescorer on.
MIN_EXAMPLES = 3
# A pick's width across (:func:`width_across`): the standard deviation of its light, above the
# local background, within WIDTH_REACH_RADII centriole radii, across its narrowest direction.
# A barrel is narrow across its axis whatever its tilt (its diameter is about half a
# centriole's length); a diffuse blob is wide in every direction.
WIDTH_REACH_RADII = 2.0
FEATURE_NAMES = (
    ("Topaz score",)
    + tuple(
        f"ring {inner:g}-{outer:g}"
        for inner, outer in zip(RING_EDGES_RADII[1:-1], RING_EDGES_RADII[2:], strict=True)
    )
    + ("width across",)
)
# A candidate's probability of being a centriole is capped below 1, so that its log-odds is
# finite: the most certain candidates tie at logit(PROBABILITY_CAP), 9.2.
PROBABILITY_CAP = 1 - 1e-4


def ring_profile(image: np.ndarray, picks: pd.DataFrame, radius_px: float) -> np.ndarray:
    """Mean intensity of the rings ``RING_EDGES_RADII`` (in units of ``radius_px``) around each
    pick, above the local background, divided by the central disc's: shape (picks, rings - 1).
    Pixels outside the field are left out."""
    image = np.asarray(image, np.float32)
    edges = np.asarray(RING_EDGES_RADII) * radius_px
    background_inner, background_outer = np.asarray(BACKGROUND_RADII) * radius_px
    reach = int(np.ceil(background_outer))
    profiles = np.zeros((len(picks), len(edges) - 2))
    for index, (y, x) in enumerate(picks[["y_px", "x_px"]].to_numpy(float)):
        window, yy, xx = _window(image, (y, x), reach)
        distance = np.hypot(yy - y, xx - x)
        background = np.median(
            window[(distance >= background_inner) & (distance <= background_outer)]
        )
        ring = np.digitize(distance, edges) - 1
        means = np.array([window[ring == k].mean() - background for k in range(len(edges) - 1)])
        with np.errstate(divide="ignore", invalid="ignore"):
            ratios = means[1:] / means[0]
        profiles[index] = np.clip(np.nan_to_num(ratios, nan=RING_RATIO_RANGE[1]), *RING_RATIO_RANGE)
    return profiles


def width_across(image: np.ndarray, picks: pd.DataFrame, radius_px: float) -> np.ndarray:
    """The standard deviation of each pick's light above the local background (the median of
    the ``BACKGROUND_RADII`` annulus) within ``WIDTH_REACH_RADII`` of it, along its narrowest
    principal axis, in units of ``radius_px``: shape (picks,). A pick with no light above the
    background gets ``WIDTH_REACH_RADII``."""
    image = np.asarray(image, np.float32)
    background_inner, background_outer = np.asarray(BACKGROUND_RADII) * radius_px
    reach = int(np.ceil(background_outer))
    widths = np.full(len(picks), WIDTH_REACH_RADII)
    for index, (y, x) in enumerate(picks[["y_px", "x_px"]].to_numpy(float)):
        window, yy, xx = _window(image, (y, x), reach)
        distance = np.hypot(yy - y, xx - x)
        ring = (distance >= background_inner) & (distance <= background_outer)
        inside = distance <= WIDTH_REACH_RADII * radius_px
        weight = np.clip(window[inside] - np.median(window[ring]), 0.0, None)
        if weight.sum() <= 0:
            continue
        offsets = np.stack([yy[inside] - y, xx[inside] - x])
        covariance = np.cov(offsets, aweights=weight, bias=True)
        narrowest = max(float(np.linalg.eigvalsh(covariance)[0]), 0.0)
        widths[index] = np.sqrt(narrowest) / radius_px
    return widths


@dataclass(frozen=True)
class Rescorer:
    """Logistic regression of "is a labelled centriole" on a pick's Topaz score and its ring
    profile (or Topaz's score alone: one coefficient), turned into the probability of being a
    centriole.

    Fitted positive-unlabelled on the candidates of the labelled fields (:func:`fit_rescorer`):
    the regression's probability divided by ``label_frequency`` (the fraction of centrioles that
    carry a label) is that of being a centriole; its score is that probability's log-odds (0:
    even odds). It scores a field's candidates above the field's floor (:func:`pick_field`).
    """

    feature_mean: tuple[float, ...]
    feature_scale: tuple[float, ...]
    coefficients: tuple[float, ...]
    intercept: float
    label_frequency: float
    topaz_cap: float | None  # None: Topaz's score alone, uncapped
    centrioles: int  # the labelled and unlabelled candidates it was fitted on
    unlabelled: int

    def describe(self) -> str:
        """One line: what it was fitted on and the weight of each (standardised) feature."""
        weights = ", ".join(
            f"{name} {weight:+.2f}"
            for name, weight in zip(FEATURE_NAMES, self.coefficients, strict=False)
        )
        return (
            f"rescorer fitted on {self.centrioles} labelled centrioles and {self.unlabelled} "
            f"unlabelled candidates; an estimated {self.label_frequency:.0%} of the centrioles "
            f"there are labelled; weights: {weights}"
        )

    def labelled_log_odds(self, features: np.ndarray) -> np.ndarray:
        """Each row of ``features`` (:func:`candidate_features`): the regression's log-odds of
        carrying a label, which orders the picks."""
        features = capped(np.asarray(features, float)[:, : len(self.coefficients)], self.topaz_cap)
        standard = (features - np.array(self.feature_mean)) / np.array(self.feature_scale)
        return standard @ np.array(self.coefficients) + self.intercept

    def score(self, image: np.ndarray, picks: pd.DataFrame, radius_px: float) -> pd.DataFrame:
        """``picks`` (Topaz scores in ``score``) with ``topaz_score`` and ``score`` the log-odds
        of being a centriole, highest first (the most certain, tied at the cap, in the
        regression's order)."""
        labelled = self.labelled_log_odds(candidate_features(image, picks, radius_px))
        probability = np.minimum(special.expit(labelled) / self.label_frequency, PROBABILITY_CAP)
        rescored = picks.assign(topaz_score=picks["score"], score=special.logit(probability))
        order = np.argsort(-labelled, kind="stable")
        return rescored.iloc[order].reset_index(drop=True)

    def to_dict(self) -> dict[str, Any]:
        return asdict(self)

    @classmethod
    def from_dict(cls, values: Mapping[str, Any]) -> Rescorer:
        return cls(**{k: tuple(v) if isinstance(v, list) else v for k, v in values.items()})


def candidate_features(image: np.ndarray, picks: pd.DataFrame, radius_px: float) -> np.ndarray:
    """The rescorer's features of each pick: its Topaz score, its ring profile, its width across
    (a rescorer fitted before the width uses the features it knows, the first ones)."""
    return np.column_stack(
        [
            picks["score"].to_numpy(float),
            ring_profile(image, picks, radius_px),
            width_across(image, picks, radius_px),
        ]
    )


def capped(features: np.ndarray, topaz_cap: float | None) -> np.ndarray:
    """``features`` with the Topaz score (the first column) capped at ``topaz_cap`` (None: not
    capped): above a typical centriole's score, Topaz's score says nothing more (bright
    clutter outscores centrioles), and the ring profile decides."""
    features = np.array(features, float)
    if topaz_cap is not None:
        features[:, 0] = np.minimum(features[:, 0], topaz_cap)
    return features


def labelled_candidates(
    candidates_by_field: Sequence[pd.DataFrame],
    known_by_field: Sequence[np.ndarray],
    match_radius_px: float,
) -> list[np.ndarray]:
    """Per field, which candidates are matched one to one to a known centre (a click) within
    ``match_radius_px``."""
    matched = []
    for candidates, known_yx in zip(candidates_by_field, known_by_field, strict=True):
        is_labelled = np.zeros(len(candidates), bool)
        yx = candidates[["y_px", "x_px"]].to_numpy(float)
        is_labelled[matched_pairs(yx, known_yx, match_radius_px)[0]] = True
        matched.append(is_labelled)
    return matched


def fit_rescorer(
    images: Sequence[np.ndarray],
    candidates_by_field: Sequence[pd.DataFrame],
    known_by_field: Sequence[np.ndarray],
    radius_px: float,
    match_radius_px: float,
    rings: bool = True,
) -> Rescorer | None:
    """Fit a :class:`Rescorer` on the Topaz candidates of labelled fields, positive-unlabelled.

    Candidates matched to a known centre (a click) within ``match_radius_px`` are labelled
    centrioles; the others are unlabelled: clutter, and the centrioles nobody clicked. A
    logistic regression tells labelled from unlabelled; where the clicked centrioles are a
    random sample of all, its probability is the label frequency times that of being a
    centriole (Elkan & Noto 2008), the label frequency being its mean over the labelled
    centrioles, each predicted by a fit without it (stratified 5-fold). On completely labelled
    fields the frequency comes out near 1 and the rescorer tells centrioles from clutter.
    ``radius_px``: a centriole's radius; ``rings``: use the ring profile (else Topaz's score
    alone, calibrated). None where there are fewer than ``MIN_EXAMPLES`` of either.
    """
    matched = labelled_candidates(candidates_by_field, known_by_field, match_radius_px)
    labels = np.concatenate([*matched, np.zeros(0, bool)])
    if labels.sum() < MIN_EXAMPLES or (~labels).sum() < MIN_EXAMPLES:
        return None
    features = np.concatenate(
        [
            candidate_features(image, candidates, radius_px)
            for image, candidates in zip(images, candidates_by_field, strict=True)
        ]
    )
    features = features if rings else features[:, :1]
    topaz_cap = float(np.median(features[labels, 0])) if rings else None
    features = capped(features, topaz_cap)
    # imported here: only training fits (scikit-learn comes with topaz-em, in the topaz env)
    from sklearn.linear_model import LogisticRegression
    from sklearn.model_selection import StratifiedKFold, cross_val_predict
    from sklearn.pipeline import make_pipeline
    from sklearn.preprocessing import StandardScaler

    def classifier():
        return make_pipeline(StandardScaler(), LogisticRegression(max_iter=1000))

    folds = StratifiedKFold(
        int(min(5, labels.sum(), (~labels).sum())), shuffle=True, random_state=0
    )
    predicted = cross_val_predict(classifier(), features, labels, cv=folds, method="predict_proba")
    label_frequency = float(np.clip(predicted[labels, 1].mean(), 1e-3, 1.0))
    fitted = classifier().fit(features, labels)
    scaler, model = fitted[0], fitted[-1]
    return Rescorer(
        feature_mean=tuple(map(float, scaler.mean_)),
        feature_scale=tuple(map(float, scaler.scale_)),
        coefficients=tuple(map(float, model.coef_[0])),
        intercept=float(model.intercept_[0]),
        label_frequency=label_frequency,
        topaz_cap=topaz_cap,
        centrioles=int(labels.sum()),
        unlabelled=int((~labels).sum()),
    )


def expected_curve(picks_by_field: Sequence[pd.DataFrame], missed: float = 0.0) -> pd.DataFrame:
    """Expected precision, recall and F1 of the picks scoring >= each threshold, highest first,
    where a pick is a centriole with the probability its ``score`` (log-odds) gives and
    ``missed`` centrioles have no pick at all: what :func:`precision_recall_curve` measures
    against true centres, estimated without them."""
    scores = np.sort(np.concatenate([p["score"].to_numpy(float) for p in picks_by_field] + [[]]))
    scores = scores[::-1]
    probability = special.expit(scores)
    true_picks = np.cumsum(probability)
    picks = np.arange(1, len(scores) + 1)
    centrioles = max(float(probability.sum() + missed), 1e-9)
    last_of_tie = np.r_[scores[1:] != scores[:-1], True]
    curve = pd.DataFrame(
        {
            "threshold": scores,
            "precision": true_picks / picks,
            "recall": true_picks / centrioles,
            "f1": 2 * true_picks / (picks + centrioles),
        },
        columns=CURVE_COLUMNS,
    )
    return curve[last_of_tie].reset_index(drop=True)


def field_floor(topaz_scores: np.ndarray) -> float:
    """The Topaz score below which a field's candidates (all its local maxima) are background:
    their median plus ``FLOOR_MADS`` median absolute deviations."""
    scores = np.asarray(topaz_scores, float)
    if not len(scores):
        return float("inf")
    median = float(np.median(scores))
    return median + FLOOR_MADS * float(np.median(np.abs(scores - median)))


def pick_field(
    model_path: PathLike,
    preprocessed_path: PathLike,
    field_yx: np.ndarray,
    factor: int,
    pixel_nm: float,
    settings: Picking,
    threshold: float | None = None,
    threads: int = 1,
) -> pd.DataFrame:
    """Topaz picks of one field scoring >= ``threshold`` (Topaz's score; None: the field's
    :func:`field_floor`, the candidates a rescorer scores), in original pixels, moved to the
    centroid of ``field_yx`` within a centriole radius, then those closer than
    ``settings.merge_distance_nm`` merged."""
    picks = extract_picks(
        model_path,
        preprocessed_path,
        factor,
        radius_px=suppression_radius_px(settings.centriole_diameter_nm, pixel_nm, factor),
        threshold=EVERY_MAXIMUM_SCORE if threshold is None else threshold,
        threads=threads,
    )
    if threshold is None:
        picks = picks[picks["score"] >= field_floor(picks["score"])]
    picks = refine_centres(field_yx, picks, settings.centriole_radius_px(pixel_nm))
    return merge_duplicates(picks, settings.merge_distance_nm / pixel_nm)


@dataclass(frozen=True)
class Calibration:
    """What a picker learned on its labelled fields beyond Topaz: the rescorer (None: ranked by
    Topaz's score), the precision-recall curve of its ranking (expected, with a rescorer) and
    the curve's best point."""

    rescorer: Rescorer | None
    curve: pd.DataFrame
    best: dict[str, float]


def calibrate(
    fields_yx: Sequence[np.ndarray],
    candidates_by_field: Sequence[pd.DataFrame],
    known_by_field: Sequence[np.ndarray],
    radius_px: float,
    match_radius_px: float,
    rescore: bool,
) -> Calibration:
    """Fit the rescorer (:func:`fit_rescorer`; with ``rescore`` on the ring profile too) on the
    labelled fields' Topaz candidates and their known centres (clicks, a few or all), rank the
    candidates by it and trace the :func:`expected_curve` of its probabilities, counting the
    known centres without a candidate, scaled by the label frequency, as missed.

    Where no rescorer can be fitted, a warning is logged, the candidates keep Topaz's scores
    and the curve is measured against the known centres, as if they were all the centrioles.
    """
    rescorer = fit_rescorer(
        fields_yx, candidates_by_field, known_by_field, radius_px, match_radius_px, rescore
    )
    if rescorer is None:
        log.warning(
            "fewer than %d labelled centrioles or unlabelled candidates near them on the "
            "labelled fields: no rescoring, the picks keep Topaz's scores, and the threshold is "
            "chosen as if the labels marked every centriole",
            MIN_EXAMPLES,
        )
        curve = precision_recall_curve(candidates_by_field, known_by_field, match_radius_px)
        return Calibration(None, curve, best_threshold(curve))
    log.info("%s", rescorer.describe())
    scored = [
        rescorer.score(field, picks, radius_px)
        for field, picks in zip(fields_yx, candidates_by_field, strict=True)
    ]
    labelled = labelled_candidates(scored, known_by_field, match_radius_px)
    unmatched = sum(len(k) for k in known_by_field) - sum(int(m.sum()) for m in labelled)
    curve = expected_curve(scored, missed=unmatched / rescorer.label_frequency)
    return Calibration(rescorer, curve, best_threshold(curve))
