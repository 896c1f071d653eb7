"""Load a trained model safely and restore whole widefield fields tile by tile; the
:class:`Restorer` that loads a model once and restores images and files with it.

Tiling: tiles start on multiples of 2**depth (so the U-Net's pooling grid is the same
as for the whole field) and overlap by ``overlap_px``. In each overlap the outer part,
up to half the receptive field, is discarded (weight 0: it saw the tile's zero padding)
and the middle is cross-faded with a cosine ramp, so seams are invisible and, with the
default overlap, the tiled result equals the one-piece result. The weights are separable
and the tile grid is a product grid, so the weight sum is the outer product of two
1D sums: nothing of the field's size is allocated besides the output.
"""

from __future__ import annotations

import hashlib
import json
import math
import os
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np
import torch

from centriole_sr import grid, io, trust
from centriole_sr.devices import pick_device
from centriole_sr.io import InputError, read_json
from centriole_sr.model import ResidualUNet
from centriole_sr.settings import Reading

PathLike = str | os.PathLike

ARCHITECTURE = "ResidualUNet"
CROSSFADE_PX = 8
"""Minimum cosine cross-fade (input pixels) kept in every overlap."""


def load_model(
    weights_path: str | os.PathLike, card_path: str | os.PathLike, device: str = "cpu"
) -> tuple[ResidualUNet, dict[str, Any]]:
    """Build the model described by the card and load its weights (never unpickling objects).

    Returns the model in eval mode on ``device`` and the card. A file that is not a
    state_dict of this architecture is refused with an InputError naming it.
    """
    weights_path, card_path = Path(weights_path), Path(card_path)
    for path in (weights_path, card_path):
        if not path.is_file():
            raise InputError(f"{path}: file not found; run the train_model step first")
    try:
        card = read_json(card_path)
    except ValueError as error:
        raise InputError(f"{card_path}: not a JSON model card ({error})") from error
    if card.get("architecture") != ARCHITECTURE or not isinstance(card.get("model_args"), dict):
        raise InputError(
            f"{card_path}: not a model card for {ARCHITECTURE} "
            "(needs 'architecture' and 'model_args'); use the card written by train_model"
        )
    try:
        model = ResidualUNet(**card["model_args"])
    except (TypeError, ValueError) as error:
        raise InputError(f"{card_path}: invalid model_args ({error})") from error
    try:
        state = torch.load(weights_path, map_location=device, weights_only=True)
    except Exception as error:  # unpickling and zip errors come in many types
        raise InputError(
            f"{weights_path}: not a PyTorch state_dict that loads safely ({error}); "
            "use the weights.pt written by train_model"
        ) from error
    if not isinstance(state, dict) or not all(torch.is_tensor(v) for v in state.values()):
        raise InputError(f"{weights_path}: not a state_dict (a mapping of names to tensors)")
    try:
        model.load_state_dict(state)
    except RuntimeError as error:
        raise InputError(
            f"{weights_path}: weights do not fit the architecture in {card_path} ({error})"
        ) from error
    return model.to(device).eval(), card


def check_pixel_size(
    card: dict[str, Any], widefield_pixel_nm: float, tolerance: float = 0.02
) -> None:
    """Refuse a field whose pixel size differs from the model's training pixel size."""
    model_pixel_nm = card.get("widefield_pixel_nm")
    if model_pixel_nm is None:
        raise InputError("model card has no 'widefield_pixel_nm'; retrain with train_model")
    if abs(widefield_pixel_nm / float(model_pixel_nm) - 1) > tolerance:
        raise InputError(
            f"field pixel size {widefield_pixel_nm:.2f} nm differs from the model's "
            f"{float(model_pixel_nm):.2f} nm by more than {tolerance:.0%}; resample the field "
            "(centriole-sr restore --resample) or train a model at this pixel size"
        )


def context_px(model: ResidualUNet) -> int:
    """Input pixels of context an output pixel needs on each side (half the receptive field,
    rounded up to a multiple of 2**depth): the halo of the bioimage.io package, and how far an
    image is extended by mirror symmetry before it is restored."""
    multiple = 2**model.depth
    return -(-math.ceil((model.receptive_field_px - 1) / 2) // multiple) * multiple


def default_overlap_px(model: ResidualUNet) -> int:
    """Overlap that discards half the receptive field on each side plus a cross-fade."""
    half_rf_px = math.ceil((model.receptive_field_px - 1) / 2)
    multiple = 2**model.depth
    return -(-(2 * half_rf_px + CROSSFADE_PX) // multiple) * multiple


def _tile_starts(length_px: int, tile_px: int, stride_px: int) -> list[int]:
    """Tile origins along one axis: every ``stride_px`` until a tile reaches the end."""
    starts = [0]
    while starts[-1] + tile_px < length_px:
        starts.append(starts[-1] + stride_px)
    return starts


def _edge_weights(length_px: int, ramp_in: bool, ramp_out: bool, margin_px: int, fade_px: int):
    """1D blending weight of a tile: 0 over ``margin_px``, cosine ramp over ``fade_px``, 1."""
    position = np.arange(length_px) + 0.5
    weight = np.ones(length_px)
    ramp = np.sin(np.pi / 2 * np.clip((position - margin_px) / max(fade_px, 1e-9), 0, 1)) ** 2
    if ramp_in:
        weight *= ramp
    if ramp_out:
        weight *= ramp[::-1]
    return weight


def restore_image(
    model: ResidualUNet,
    image: np.ndarray,
    scale: int,
    tile_px: int = 256,
    overlap_px: int | None = None,
    batch_size: int = 4,
    device: str | torch.device = "cpu",
    progress: Callable[[int, int], None] | None = None,
) -> np.ndarray:
    """Restore a normalised (y, x) widefield image of any size; returns (y*scale, x*scale).

    The image is first extended by mirror symmetry by :func:`context_px` on each side (numpy's
    and bioimageio.core's "symmetric"), so that pixels near its border see context as inner
    pixels do, and the extension is cropped from the result. ``tile_px`` and ``overlap_px``
    are in input pixels (rounded to multiples of 2**depth); ``overlap_px`` defaults to
    :func:`default_overlap_px`. Tiles are run in batches of ``batch_size``, in mixed precision
    on CUDA; ``progress(done, total)`` is called after each batch.
    """
    if image.ndim != 2:
        raise ValueError(f"expected a 2D (y, x) image, got shape {image.shape}")
    if scale != model.scale:
        raise ValueError(f"scale {scale} differs from the model's {model.scale}")
    context = context_px(model)
    extended = np.pad(image, context, mode="symmetric")
    return _restore_tiles(model, extended, scale, tile_px, overlap_px, batch_size, device,
                          progress, context * scale)  # fmt: skip


def _cropped(start: int, stop: int, crop_px: int, length: int) -> tuple[slice, slice]:
    """Where output pixels [start, stop) of the extended image land in an output cropped by
    ``crop_px`` on both sides of ``length`` pixels, and which of the tile's pixels land there."""
    low, high = max(start - crop_px, 0), min(stop - crop_px, length)
    offset = start - crop_px
    return slice(low, max(high, low)), slice(low - offset, max(high, low) - offset)


def _restore_tiles(
    model: ResidualUNet,
    image: np.ndarray,
    scale: int,
    tile_px: int,
    overlap_px: int | None,
    batch_size: int,
    device: str | torch.device,
    progress: Callable[[int, int], None] | None,
    crop_px: int,
) -> np.ndarray:
    """:func:`restore_image` of an image already extended: tiles, weights, stitching into an
    output without its outer ``crop_px`` output pixels (only that much is allocated)."""
    multiple = 2**model.depth
    tile_px = max(tile_px // multiple * multiple, multiple)
    overlap_px = default_overlap_px(model) if overlap_px is None else overlap_px
    overlap_px = -(-overlap_px // multiple) * multiple
    if overlap_px >= tile_px:
        raise ValueError(f"overlap {overlap_px} px must be smaller than the tile ({tile_px} px)")
    fade_px = min(overlap_px, CROSSFADE_PX)
    half_rf_px = math.ceil((model.receptive_field_px - 1) / 2)
    margin_px = max(0, min(half_rf_px, (overlap_px - fade_px) // 2))
    fade_px = overlap_px - 2 * margin_px

    height, width = image.shape
    starts = [_tile_starts(n, tile_px, tile_px - overlap_px) for n in (height, width)]
    weights = []  # per axis: per-tile 1D weights at the output pixel size, normalised
    for length, axis_starts in zip((height, width), starts, strict=True):
        axis_weights = []
        total = np.zeros(length * scale)
        for index, start in enumerate(axis_starts):
            stop = min(start + tile_px, length)
            weight = _edge_weights(
                (stop - start) * scale,
                ramp_in=index > 0,
                ramp_out=stop < length,
                margin_px=margin_px * scale,
                fade_px=fade_px * scale,
            )
            total[start * scale : stop * scale] += weight
            axis_weights.append((start, stop, weight))
        axis_weights = [(a, b, w / total[a * scale : b * scale]) for a, b, w in axis_weights]
        weights.append(axis_weights)

    tiles = [(ty, tx) for ty in weights[0] for tx in weights[1]]
    tiles.sort(key=lambda t: (t[0][1] - t[0][0], t[1][1] - t[1][0]))  # equal shapes together
    output = np.zeros((height * scale - 2 * crop_px, width * scale - 2 * crop_px), np.float32)
    device = torch.device(device)
    model = model.to(device).eval()
    with torch.inference_mode(), torch.autocast(device.type, enabled=device.type == "cuda"):
        for first in range(0, len(tiles), batch_size):
            group = tiles[first : first + batch_size]
            shapes = {(b0 - a0, b1 - a1) for (a0, b0, _), (a1, b1, _) in group}
            for shape in shapes:
                batch = [t for t in group if (t[0][1] - t[0][0], t[1][1] - t[1][0]) == shape]
                stack = np.stack([image[a0:b0, a1:b1] for (a0, b0, _), (a1, b1, _) in batch])
                inputs = torch.from_numpy(np.ascontiguousarray(stack, np.float32)).to(device)
                restored = model(inputs[:, None]).float().cpu().numpy()[:, 0]
                for ((a0, b0, w0), (a1, b1, w1)), tile in zip(batch, restored, strict=True):
                    target, source = _cropped(a0 * scale, b0 * scale, crop_px, output.shape[0])
                    target_x, source_x = _cropped(a1 * scale, b1 * scale, crop_px,
                                                  output.shape[1])  # fmt: skip
                    weighted = tile[source, source_x] * np.outer(w0[source], w1[source_x])
                    output[target, target_x] += weighted.astype(np.float32)
            if progress is not None:
                progress(min(first + batch_size, len(tiles)), len(tiles))
    return output


MIN_TILE_PX = 64
"""Out of GPU memory, tiles are halved down to this side (widefield pixels) before giving up."""
PLANE = Reading(channel=None, z_stack="max")
"""Reading of single-channel files, z-stacks as their maximum projection (the config's default)."""
PIXEL_TOLERANCE = 0.02
"""A relative pixel-size difference beyond this refuses an image (unless resampled)."""


@dataclass
class Restorer:
    """A trained network, loaded once, that restores widefield images of its pixel size.

    ``tile_px`` and ``batch_size`` are the tiling's (restoration.tile_px and batch_size);
    ``device`` a torch device (see :meth:`from_dir`).
    """

    model: Any
    card: dict[str, Any]
    weights_sha256: str
    device: Any
    tile_px: int = 256
    batch_size: int = 4

    @classmethod
    def from_files(
        cls,
        weights: PathLike,
        card: PathLike,
        *,
        device: str = "auto",
        tile_px: int = 256,
        batch_size: int = 4,
    ) -> Restorer:
        """Load weights.pt with its card.json; ``device``: auto (CUDA when visible), cpu or
        cuda. A missing or corrupt file raises :class:`io.InputError` naming it."""
        model, model_card = load_model(weights, card)
        torch_device = pick_device(device, "device")
        digest = hashlib.sha256(Path(weights).read_bytes()).hexdigest()
        return cls(model.to(torch_device), model_card, digest, torch_device, tile_px, batch_size)

    @classmethod
    def from_dir(cls, model_dir: PathLike, **options: Any) -> Restorer:
        """The model of a training's folder (results/model: weights.pt, card.json)."""
        folder = Path(model_dir)
        if not folder.is_dir():
            raise io.InputError(f"{folder}: no such model folder (it holds weights.pt, card.json)")
        return cls.from_files(folder / "weights.pt", folder / "card.json", **options)

    @property
    def scale(self) -> int:
        """The network's whole upsampling factor (its output has ``scale`` x the pixels)."""
        return int(self.card["scale"])

    @property
    def pixel_ratio(self) -> float:
        """Widefield pixel size / confocal pixel size: restorations have this many times the
        input's pixels per side (any number >= 1; ``scale`` where the card has no confocal
        pixel size)."""
        confocal_nm = self.card.get("confocal_pixel_nm")
        return self.widefield_pixel_nm / confocal_nm if confocal_nm else float(self.scale)

    @property
    def working_pixel_nm(self) -> float:
        """The pitch of the network's own output grid (:mod:`centriole_sr.grid`)."""
        return float(self.card.get("working_pixel_nm", self.widefield_pixel_nm / self.scale))

    @property
    def widefield_pixel_nm(self) -> float:
        """The pixel size of the widefield images the model was trained for."""
        return float(self.card["widefield_pixel_nm"])

    def restore(
        self,
        image: np.ndarray,
        pixel_nm: float | None = None,
        *,
        resample: bool = False,
        progress: Callable[[int, int], None] | None = None,
    ) -> np.ndarray:
        """Restore a (y, x) widefield image of ``pixel_nm`` (None: the model's) onto the
        confocal grid, on the normalised scale the network was trained on.

        An image of another pixel size stops, naming both, unless ``resample``: then it is
        first resampled (cubic) to the model's pixel size. For a pixel-size ratio that is not
        a whole number, the network's output (its working grid) is resampled onto the confocal
        grid. On CUDA out of memory the tiles are halved and the image restored again.
        """
        image = self._at_model_pixel_size(np.asarray(image, np.float32), pixel_nm, resample)
        normalised = io.normalize_percentile(image)
        tile_px = self.tile_px
        while True:
            try:
                restored = restore_image(
                    self.model, normalised, self.scale, tile_px=tile_px,
                    batch_size=self.batch_size, device=self.device, progress=progress,
                )  # fmt: skip
                return self._on_confocal_grid(restored)
            except RuntimeError as error:  # torch.OutOfMemoryError is one
                if not _out_of_memory(error) or tile_px // 2 < MIN_TILE_PX:
                    raise
                import torch

                torch.cuda.empty_cache()
                tile_px //= 2

    def restore_with_trust(
        self,
        image: np.ndarray,
        pixel_nm: float | None = None,
        *,
        members: int = 3,
        resample: bool = False,
        progress: Callable[[int, int], None] | None = None,
    ) -> tuple[np.ndarray, np.ndarray]:
        """:meth:`restore` with a trust map: (restoration, trust map), both on the confocal
        grid in the restoration's units.

        The image is restored ``members`` times, rotated and mirrored
        (:func:`centriole_sr.trust.augmented_restorations`, each result turned back); the
        restoration is their mean, the trust map their spread (:func:`trust.spread_map`):
        large where the network is unsure. It costs ``members`` restorations.
        """
        image = self._at_model_pixel_size(np.asarray(image, np.float32), pixel_nm, resample)
        done = [0]

        def one(copy: np.ndarray) -> np.ndarray:
            def step(tiles: int, total: int) -> None:
                if progress is not None:
                    progress(done[0] * total + tiles, members * total)

            restored = self.restore(copy, progress=step)
            done[0] += 1
            return restored

        estimates = trust.augmented_restorations(one, image, members)
        return estimates.mean(axis=0), trust.spread_map(estimates)

    def _on_confocal_grid(self, restored: np.ndarray) -> np.ndarray:
        if grid.is_whole(self.pixel_ratio):  # the working grid is the confocal grid
            return restored
        return grid.resample(restored, self.working_pixel_nm,
                             self.widefield_pixel_nm / self.pixel_ratio)  # fmt: skip

    def _at_model_pixel_size(
        self, image: np.ndarray, pixel_nm: float | None, resample: bool
    ) -> np.ndarray:
        if pixel_nm is None or abs(pixel_nm / self.widefield_pixel_nm - 1) <= PIXEL_TOLERANCE:
            return image
        if not resample:
            check_pixel_size(self.card, pixel_nm, PIXEL_TOLERANCE)
        from scipy import ndimage

        return ndimage.zoom(image, pixel_nm / self.widefield_pixel_nm, order=3).astype(np.float32)

    def metadata(self) -> dict[str, Any]:
        """What a restored image says about its making: the model's checksum and settings."""
        return {
            "software": "centriole-sr",
            "model_sha256": self.weights_sha256,
            "model_args": self.card.get("model_args"),
            "widefield_pixel_nm": self.widefield_pixel_nm,
            "confocal_pixel_nm": self.card.get("confocal_pixel_nm"),
            "normalization": self.card.get("normalization"),
            "tile_px": self.tile_px,
        }

    def restore_file(
        self,
        path: PathLike,
        output: PathLike,
        *,
        pixel_nm: float | None = None,
        reading: Reading = PLANE,
        resample: bool = False,
        output_dtype: str = "float32",
        trust_output: PathLike | None = None,
        members: int = 3,
        progress: Callable[[int, int], None] | None = None,
    ) -> np.ndarray:
        """Restore one image file into an OME-TIFF at the confocal pixel size (nm), with
        :meth:`metadata` as its description; returns the restored image.

        The pixel size comes from the file (``pixel_nm`` where it has none). ``reading``: the
        channel and z-stack handling of the pipeline. ``output_dtype`` "input" writes the
        input's pixel type and intensity scale (:func:`io.denormalize_percentile`). With
        ``trust_output``, the restoration is the mean of an ensemble of ``members``
        (:meth:`restore_with_trust`) and its trust map is written there too (float32, in the
        restoration's intensity units).
        """
        image, found_pixel_nm = io.read_field(path, pixel_nm, **vars(reading))
        trust_map = None
        if trust_output is None:
            restored = self.restore(image, found_pixel_nm, resample=resample, progress=progress)
        else:
            restored, trust_map = self.restore_with_trust(
                image, found_pixel_nm, members=members, resample=resample, progress=progress
            )
        source_pixel_nm = self.widefield_pixel_nm if resample else found_pixel_nm
        output_pixel_nm = source_pixel_nm / self.pixel_ratio
        if output_dtype == "input":
            low, high = io.percentile_bounds(image)
            restored = io.denormalize_percentile(restored, (low, high), io.stored_dtype(path))
            trust_map = None if trust_map is None else trust_map * np.float32(high - low)
        metadata = {**self.metadata(), "source": Path(path).name}
        if trust_map is not None:
            metadata["ensemble_members"] = members
            trust_metadata = {**metadata, "content": "trust map: spread of the ensemble"}
            io.write_tiff(trust_output, trust_map, output_pixel_nm,
                          description=json.dumps(trust_metadata))  # fmt: skip
        io.write_tiff(output, restored, output_pixel_nm, description=json.dumps(metadata))
        return restored


def _out_of_memory(error: RuntimeError) -> bool:
    """Whether a CUDA error is an out-of-memory one."""
    return "out of memory" in str(error).lower()
