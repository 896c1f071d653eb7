"""Train the residual U-Net on degraded confocal fields, resumably and reproducibly.

Every epoch draws fresh crops from whole degraded fields (:class:`CropSampler`): some
around picked centrioles, the rest anywhere (background, clutter), each with new noise.
Validation holds out whole fields (never crops of a training field). Training uses
the L1 loss (optionally mixed with 1 - SSIM), Adam with a per-step cosine learning-rate
schedule, random flips and 90° rotations applied identically to input and target, mixed
precision on CUDA, and is deterministic on the CPU for a seed. A checkpoint written after
every epoch lets an interrupted run continue exactly where it stopped.
"""

from __future__ import annotations

import dataclasses
import hashlib
import inspect
import json
import math
import os
import time
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd
import torch
import torch.nn.functional as F

from centriole_sr.degrade import Degradation, DegradedField, field_crops, nearest_origins_px
from centriole_sr.devices import pick_device
from centriole_sr.io import InputError, atomic_path, normalize_percentile, write_json, write_table
from centriole_sr.model import ResidualUNet

# Settings that change neither the result nor its meaning: a checkpoint stays valid.
RESUMABLE_CHANGES = ("max_minutes", "threads", "device")
CARD_KEYS = (
    "architecture",
    "model_args",
    "scale",
    "receptive_field_px",
    "normalization",
    "input_shape_px",
    "training",
)


@dataclass
class TrainParams:
    """Training settings.

    epochs: rounds of ``crops_per_epoch`` fresh crops. batch_size: crops per step.
    crop_px: side of a training crop in widefield pixels (at least the receptive field).
    crops_per_epoch: crops drawn per epoch; as many are drawn once from the validation fields.
    centriole_fraction: share of crops centred near a pick, the rest anywhere in the field.
    learning_rate: Adam's peak rate (cosine decay to 0 over all epochs).
    validation_fraction: share of fields held out (whole fields; a patch split if one field).
    seed: seeds the initial weights, the split, the shuffling and the augmentation.
    max_minutes: time budget over all calls; training stops early and keeps the best epoch.
    early_stopping_patience: epochs without a better validation loss before stopping.
    threads: CPU threads for torch. device: "auto" (CUDA when present), "cpu" or "cuda".
    base_channels, depth: the architecture (see :class:`ResidualUNet`).
    ssim_weight: share of (1 - SSIM) in the loss, the rest L1 (0: L1 only).
    """

    epochs: int = 80
    batch_size: int = 16
    crop_px: int = 64
    crops_per_epoch: int = 256
    centriole_fraction: float = 0.5
    learning_rate: float = 1e-3
    validation_fraction: float = 0.25
    seed: int = 0
    max_minutes: float = 5.0
    early_stopping_patience: int = 20
    threads: int = 2
    device: str = "auto"
    base_channels: int = 16
    depth: int = 2
    ssim_weight: float = 0.0


@dataclass(frozen=True)
class TrainingField:
    """One degraded confocal field and its picks (y, x confocal pixels), named."""

    name: str
    field: DegradedField
    centres_yx_px: np.ndarray

    def rows(self, first: int, stop: int, scale: int, name: str) -> TrainingField:
        """The part of the field between widefield rows ``first`` and ``stop``."""
        fine = slice(first * scale, stop * scale)
        inside = (self.centres_yx_px[:, 0] >= fine.start) & (self.centres_yx_px[:, 0] < fine.stop)
        degraded = dataclasses.replace(
            self.field,
            target=self.field.target[fine],
            signal_photons=self.field.signal_photons[first:stop],
        )
        return TrainingField(name, degraded, self.centres_yx_px[inside] - [fine.start, 0])


class CropSampler:
    """Random training crops of degraded fields, each with fresh noise.

    A share ``centriole_fraction`` of crops lies around a pick (the pick anywhere in the
    crop's central half); the others anywhere in a field (background, clutter, borders of
    cells), fields weighted by their area.
    """

    def __init__(
        self,
        fields: list[TrainingField],
        degradation: Degradation,
        crop_px: int,
        centriole_fraction: float,
    ) -> None:
        small = [f.name for f in fields if min(f.field.signal_photons.shape) < crop_px]
        if small:
            raise InputError(
                f"fields {', '.join(small)} are smaller than training.crop_px ({crop_px} "
                "widefield pixels); lower training.crop_px"
            )
        self.fields, self.degradation = fields, degradation
        self.crop_px, self.centriole_fraction = crop_px, centriole_fraction
        areas = np.array([f.field.signal_photons.size for f in fields], float)
        self.area_weights = areas / areas.sum()
        picks = np.array([len(f.centres_yx_px) for f in fields], float)
        self.pick_weights = picks / picks.sum() if picks.sum() else None

    def _origins(self, index: int, count: int, near_picks: bool, rng: np.random.Generator):
        """Widefield-pixel origins (count, 2) of crops in field ``index``."""
        field = self.fields[index]
        shape = np.array(field.field.signal_photons.shape)
        if not near_picks:
            return rng.integers(0, shape - self.crop_px + 1, size=(count, 2))
        scale = self.degradation.scale
        centres = field.centres_yx_px[rng.integers(0, len(field.centres_yx_px), count)]
        jitter_px = rng.uniform(-0.25, 0.25, size=(count, 2)) * self.crop_px * scale
        origins = nearest_origins_px(centres + jitter_px, self.crop_px, scale)
        return np.clip(origins, 0, shape - self.crop_px)

    def sample(self, count: int, rng: np.random.Generator) -> tuple[np.ndarray, np.ndarray]:
        """``count`` (input, target) crops: (count, c, c) and (count, c*scale, c*scale)."""
        near = rng.uniform(size=count) < self.centriole_fraction
        if self.pick_weights is None:
            near[:] = False
        inputs, targets = [], []
        for near_picks in (True, False):
            wanted = int((near == near_picks).sum())
            weights = self.pick_weights if near_picks else self.area_weights
            if wanted == 0:
                continue
            which = rng.choice(len(self.fields), size=wanted, p=weights)
            for index in np.unique(which):
                origins = self._origins(index, int((which == index).sum()), near_picks, rng)
                crops = field_crops(self.fields[index].field, origins, self.crop_px,
                                    self.degradation, rng)  # fmt: skip
                inputs.append(crops[0])
                targets.append(crops[1])
        return np.concatenate(inputs), np.concatenate(targets)


def split_by_field(
    fields: list[TrainingField],
    fraction: float,
    scale: int,
    rng: np.random.Generator,
    log: Callable[[str], None],
) -> tuple[list[TrainingField], list[TrainingField]]:
    """Training and validation fields; validation takes whole fields (of one field, its
    last rows)."""
    if not 0 < fraction < 1:
        raise InputError(f"validation_fraction must be between 0 and 1, got {fraction}")
    if len(fields) < 2:
        field = fields[0]
        log(
            f"warning: all crops come from one field ({field.name}); validating on its last "
            "rows, which overestimates quality"
        )
        height = field.field.signal_photons.shape[0]
        split = height - max(1, round(fraction * height))
        return (
            [field.rows(0, split, scale, field.name)],
            [field.rows(split, height, scale, f"{field.name} (last rows)")],
        )
    n_val = min(max(1, round(fraction * len(fields))), len(fields) - 1)
    val_names = set(rng.permutation([f.name for f in fields])[:n_val].tolist())
    return (
        [f for f in fields if f.name not in val_names],
        [f for f in fields if f.name in val_names],
    )


def augment(
    inputs: np.ndarray, targets: np.ndarray, rng: np.random.Generator
) -> tuple[np.ndarray, np.ndarray]:
    """Apply one random flip/90° rotation per pair, identically to input and target."""
    turns = rng.integers(0, 4, len(inputs))
    flips = rng.integers(0, 2, len(inputs)).astype(bool)
    out_in, out_tg = [], []
    for image, target, k, flip in zip(inputs, targets, turns, flips, strict=True):
        image, target = np.rot90(image, k), np.rot90(target, k)
        if flip:
            image, target = image[:, ::-1], target[:, ::-1]
        out_in.append(image)
        out_tg.append(target)
    return np.ascontiguousarray(out_in), np.ascontiguousarray(out_tg)


def _fingerprint(params: TrainParams, degradation: Degradation, fields: list[TrainingField]) -> str:
    """Hash of the settings that shape the result and of the training data."""
    settings = {k: v for k, v in dataclasses.asdict(params).items() if k not in RESUMABLE_CHANGES}
    settings["degradation"] = dataclasses.asdict(degradation)
    digest = hashlib.sha256(json.dumps(settings, sort_keys=True).encode())
    arrays = [a for f in fields for a in (f.field.target, f.field.signal_photons, f.centres_yx_px)]
    digest.update(json.dumps([f.name for f in fields]).encode())
    for array in arrays:
        digest.update(str(array.shape).encode())
        digest.update(np.ascontiguousarray(array).tobytes())
    return digest.hexdigest()


def _load_checkpoint(
    path: Path, fingerprint: str, log: Callable[[str], None]
) -> dict[str, Any] | None:
    """The checkpoint at ``path`` if it continues this very training, else None.

    One of other settings or data (the reason Snakemake reruns training) or an unreadable one
    cannot be resumed: it is reported and replaced by the new run's first checkpoint.
    """
    if not path.is_file():
        return None
    try:
        checkpoint = torch.load(path, map_location="cpu", weights_only=True)
    except Exception as error:  # unpickling and zip errors come in many types
        log(f"WARNING: {path} is unreadable ({error}); training starts afresh")
        return None
    if checkpoint.get("fingerprint") != fingerprint:
        log(f"{path} holds a training of other settings or data; training starts afresh")
        return None
    return checkpoint


def ssim_torch(prediction: torch.Tensor, target: torch.Tensor, data_range: float = 1.0):
    """Mean SSIM of (n, 1, h, w) batches, as scikit-image computes it by default.

    7x7 uniform windows wholly inside the image, sample covariance, K1 = 0.01, K2 = 0.03:
    the same number as :func:`skimage.metrics.structural_similarity`, differentiable.
    """
    window_px = 7
    n_px = window_px**2
    covariance_norm = n_px / (n_px - 1)
    c1, c2 = (0.01 * data_range) ** 2, (0.03 * data_range) ** 2

    def local_mean(image: torch.Tensor) -> torch.Tensor:
        return F.avg_pool2d(image, window_px, stride=1)

    mean_p, mean_t = local_mean(prediction), local_mean(target)
    var_p = covariance_norm * (local_mean(prediction * prediction) - mean_p * mean_p)
    var_t = covariance_norm * (local_mean(target * target) - mean_t * mean_t)
    cov = covariance_norm * (local_mean(prediction * target) - mean_p * mean_t)
    ssim_map = ((2 * mean_p * mean_t + c1) * (2 * cov + c2)) / (
        (mean_p**2 + mean_t**2 + c1) * (var_p + var_t + c2)
    )
    return ssim_map.mean()  # the valid windows: scikit-image's map cropped by (7 - 1) / 2


def training_loss(prediction: torch.Tensor, target: torch.Tensor, ssim_weight: float):
    """(1 - w) * L1 + w * (1 - SSIM): plain L1 for w = 0."""
    loss = F.l1_loss(prediction, target)
    if ssim_weight > 0:
        loss = (1 - ssim_weight) * loss + ssim_weight * (1 - ssim_torch(prediction, target))
    return loss


def _evaluate(
    model: ResidualUNet, inputs: torch.Tensor, targets: torch.Tensor, batch_size: int
) -> tuple[float, float]:
    """Mean L1 loss and mean PSNR (dB, data range 1) over validation pairs."""
    model.eval()
    l1_sum, psnr_sum = 0.0, 0.0
    with torch.inference_mode():
        for first in range(0, len(inputs), batch_size):
            prediction = model(inputs[first : first + batch_size]).float()
            target = targets[first : first + batch_size]
            l1_sum += float(F.l1_loss(prediction, target, reduction="sum")) / target[0].numel()
            mse = ((prediction - target) ** 2).mean(dim=(1, 2, 3)).clamp_min(1e-12)
            psnr_sum += float((-10 * torch.log10(mse)).sum())
    model.train()
    return l1_sum / len(inputs), psnr_sum / len(inputs)


def _save_torch(obj: Any, path: str | os.PathLike) -> None:
    """torch.save through a temporary file and an atomic rename."""
    with atomic_path(path) as tmp:
        torch.save(obj, tmp)


def _normalisation_card() -> dict[str, Any]:
    """Name and percentiles of the normalisation shared by training and restoration: over
    the whole widefield field, never per tile or crop."""
    defaults = inspect.signature(normalize_percentile).parameters
    return {
        "name": f"centriole_sr.io.{normalize_percentile.__name__}",
        "over": "whole field",
        "low_percentile": defaults["low"].default,
        "high_percentile": defaults["high"].default,
    }


def train_model(
    fields: list[TrainingField],
    degradation: Degradation,
    params: TrainParams,
    out_dir: str | os.PathLike,
    checkpoint_path: str | os.PathLike,
    log: Callable[[str], None] = print,
    card_extra: dict[str, Any] | None = None,
) -> dict[str, Any]:
    """Train on crops of degraded ``fields`` and write weights.pt, card.json and history.tsv
    to out_dir.

    If ``checkpoint_path`` holds a checkpoint of the same settings and data, training
    continues from it (a finished run is not trained further); a checkpoint of other
    settings is refused. ``card_extra`` (e.g. pixel sizes, sigma) is added to the model card.
    Returns the training summary.
    """
    if not fields:
        raise InputError("no degraded fields to train on")
    clashes = sorted(set(card_extra or {}) & set(CARD_KEYS))
    if clashes:
        raise ValueError(f"card_extra may not override the card's own keys {clashes}")
    device = pick_device(params.device, "training.device")
    use_amp = device.type == "cuda"
    if device.type == "cpu":
        torch.set_num_threads(params.threads)
    deterministic_before = torch.are_deterministic_algorithms_enabled()
    torch.use_deterministic_algorithms(device.type == "cpu" or deterministic_before)
    try:
        return _train(
            list(fields),
            degradation,
            params,
            device,
            use_amp,
            Path(out_dir),
            Path(checkpoint_path),
            log,
            card_extra or {},
        )
    finally:
        torch.use_deterministic_algorithms(deterministic_before)


def _train(
    fields: list[TrainingField],
    degradation: Degradation,
    params: TrainParams,
    device: torch.device,
    use_amp: bool,
    out_dir: Path,
    checkpoint_path: Path,
    log: Callable[[str], None],
    card_extra: dict[str, Any],
) -> dict[str, Any]:
    """The training loop behind :func:`train_model` (arguments already checked)."""
    scale = degradation.scale
    fingerprint = _fingerprint(params, degradation, fields)
    torch.manual_seed(params.seed)
    rng = np.random.default_rng(params.seed)
    train_fields, val_fields = split_by_field(fields, params.validation_fraction, scale, rng, log)
    sampler = CropSampler(train_fields, degradation, params.crop_px, params.centriole_fraction)
    val_sampler = CropSampler(val_fields, degradation, params.crop_px, params.centriole_fraction)
    val_inputs, val_targets = val_sampler.sample(
        params.crops_per_epoch, np.random.default_rng([params.seed, 1])
    )
    model = ResidualUNet(scale, params.base_channels, params.depth).to(device)
    if params.crop_px < model.receptive_field_px:
        log(
            f"warning: training.crop_px ({params.crop_px}) is smaller than the network's "
            f"receptive field ({model.receptive_field_px} widefield pixels)"
        )
    optimizer = torch.optim.Adam(model.parameters(), lr=params.learning_rate)
    steps_per_epoch = math.ceil(params.crops_per_epoch / params.batch_size)
    scheduler = torch.optim.lr_scheduler.CosineAnnealingLR(
        optimizer, T_max=params.epochs * steps_per_epoch
    )
    scaler = torch.amp.GradScaler(device.type, enabled=use_amp)
    state = {
        "epoch": 0,
        "best_loss": math.inf,
        "best_epoch": 0,
        "best_state": None,
        "history": [],
        "stopped": "",
        "since_best": 0,
    }
    resumed_from = 0
    checkpoint = _load_checkpoint(checkpoint_path, fingerprint, log)
    if checkpoint is not None:
        model.load_state_dict(checkpoint["model"])
        optimizer.load_state_dict(checkpoint["optimizer"])
        scheduler.load_state_dict(checkpoint["scheduler"])
        scaler.load_state_dict(checkpoint["scaler"])
        rng.bit_generator.state = checkpoint["numpy_rng"]
        torch.set_rng_state(checkpoint["torch_rng"])
        state = checkpoint["state"]
        resumed_from = state["epoch"]
        log(f"resuming from {checkpoint_path} after epoch {resumed_from}")

    val_in = torch.from_numpy(val_inputs[:, None]).to(device)
    val_tg = torch.from_numpy(val_targets[:, None]).to(device)
    spent_s = sum(row["seconds"] for row in state["history"])
    start = time.perf_counter()
    model.train()
    while not state["stopped"]:
        epoch_start = time.perf_counter()
        epoch_inputs, epoch_targets = sampler.sample(params.crops_per_epoch, rng)
        order = rng.permutation(len(epoch_inputs))
        loss_sum = 0.0
        for first in range(0, len(order), params.batch_size):
            batch = order[first : first + params.batch_size]
            batch_in, batch_tg = augment(epoch_inputs[batch], epoch_targets[batch], rng)
            x = torch.from_numpy(batch_in[:, None]).to(device)
            y = torch.from_numpy(batch_tg[:, None]).to(device)
            optimizer.zero_grad(set_to_none=True)
            with torch.autocast(device.type, enabled=use_amp):
                loss = training_loss(model(x).float(), y, params.ssim_weight)
            scaler.scale(loss).backward()
            scaler.step(optimizer)
            scaler.update()
            scheduler.step()
            loss_sum += float(loss.detach()) * len(batch)
        val_loss, val_psnr = _evaluate(model, val_in, val_tg, params.batch_size)
        state["epoch"] += 1
        seconds = time.perf_counter() - epoch_start
        state["history"].append(
            {
                "epoch": state["epoch"],
                "train_loss": loss_sum / len(order),
                "val_loss": val_loss,
                "val_psnr": val_psnr,
                "seconds": seconds,
            }
        )
        if val_loss < state["best_loss"]:
            state.update(best_loss=val_loss, best_epoch=state["epoch"], since_best=0)
            state["best_state"] = {
                k: v.detach().cpu().clone() for k, v in model.state_dict().items()
            }
        else:
            state["since_best"] += 1
        elapsed_s = spent_s + time.perf_counter() - start
        if state["epoch"] >= params.epochs:
            state["stopped"] = "completed"
        elif state["since_best"] >= params.early_stopping_patience:
            state["stopped"] = "early stopping"
        elif elapsed_s >= 60 * params.max_minutes:
            state["stopped"] = "time budget"
        per_epoch_s = (time.perf_counter() - start) / (state["epoch"] - resumed_from)
        eta_s = min(
            per_epoch_s * (params.epochs - state["epoch"]),
            max(60 * params.max_minutes - elapsed_s, 0),
        )
        _save_torch(
            {
                "fingerprint": fingerprint,
                "model": model.state_dict(),
                "optimizer": optimizer.state_dict(),
                "scheduler": scheduler.state_dict(),
                "scaler": scaler.state_dict(),
                "numpy_rng": rng.bit_generator.state,
                "torch_rng": torch.get_rng_state(),
                "state": state,
            },
            checkpoint_path,
        )
        log(
            f"epoch {state['epoch']}/{params.epochs}  train L1 {loss_sum / len(order):.4f}  "
            f"val L1 {val_loss:.4f}  val PSNR {val_psnr:.2f} dB  elapsed {elapsed_s:.0f} s  "
            f"ETA {0 if state['stopped'] else eta_s:.0f} s"
            + (f"  stopped: {state['stopped']}" if state["stopped"] else "")
        )

    if state["best_state"] is None:
        raise RuntimeError("training diverged: the validation loss was never finite")
    summary = {
        "epochs_run": state["epoch"],
        "best_epoch": state["best_epoch"],
        "best_val_loss": state["best_loss"],
        "best_val_psnr": state["history"][state["best_epoch"] - 1]["val_psnr"],
        "stopped": state["stopped"],
        "seconds": sum(row["seconds"] for row in state["history"]),
        "resumed_from_epoch": resumed_from,
        "device": device.type,
        "crops_seen": state["epoch"] * params.crops_per_epoch,
        "n_val": len(val_inputs),
        "train_fields": sorted(f.name for f in train_fields),
        "val_fields": sorted(f.name for f in val_fields),
        "params": dataclasses.asdict(params),
    }
    _save_torch(state["best_state"], out_dir / "weights.pt")
    write_table(out_dir / "history.tsv", pd.DataFrame(state["history"]))
    card = {
        "architecture": type(model).__name__,
        "model_args": model.constructor_args(),
        "scale": scale,
        "receptive_field_px": model.receptive_field_px,
        "normalization": _normalisation_card(),
        "input_shape_px": [params.crop_px, params.crop_px],
        "training": summary,
    }
    write_json(out_dir / "card.json", {**card, **card_extra})
    return summary
