"""Train the residual U-Net on degraded -> confocal pairs, resumably and reproducibly.

Validation holds out whole fields (never patches of a training field). Training uses
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

    epochs: passes over the training patches. batch_size: patches per step.
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


def split_by_field(
    field_ids: np.ndarray, fraction: float, rng: np.random.Generator, log: Callable[[str], None]
) -> tuple[np.ndarray, np.ndarray]:
    """Indices of training and validation patches; validation takes whole fields."""
    if not 0 < fraction < 1:
        raise InputError(f"validation_fraction must be between 0 and 1, got {fraction}")
    fields = np.unique(field_ids)
    if len(fields) < 2:
        log(
            f"warning: all patches come from one field ({fields[0] if len(fields) else '-'}); "
            "validating on a random patch split, which overestimates quality"
        )
        order = rng.permutation(len(field_ids))
        n_val = max(1, round(fraction * len(order)))
        return np.sort(order[n_val:]), np.sort(order[:n_val])
    n_val = min(max(1, round(fraction * len(fields))), len(fields) - 1)
    val_fields = rng.permutation(fields)[:n_val]
    is_val = np.isin(field_ids, val_fields)
    return np.flatnonzero(~is_val), np.flatnonzero(is_val)


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


def _fingerprint(params: TrainParams, scale: int, arrays: list[np.ndarray]) -> str:
    """Hash of the settings that shape the result and of the training data."""
    settings = {k: v for k, v in dataclasses.asdict(params).items() if k not in RESUMABLE_CHANGES}
    digest = hashlib.sha256(json.dumps({**settings, "scale": scale}, sort_keys=True).encode())
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
    """Name and percentiles of the normalisation shared by training and restoration."""
    defaults = inspect.signature(normalize_percentile).parameters
    return {
        "name": f"centriole_sr.io.{normalize_percentile.__name__}",
        "low_percentile": defaults["low"].default,
        "high_percentile": defaults["high"].default,
    }


def train_model(
    inputs: np.ndarray,
    targets: np.ndarray,
    field_ids: np.ndarray,
    scale: int,
    params: TrainParams,
    out_dir: str | os.PathLike,
    checkpoint_path: str | os.PathLike,
    log: Callable[[str], None] = print,
    card_extra: dict[str, Any] | None = None,
) -> dict[str, Any]:
    """Train on normalised pairs and write weights.pt, card.json and history.tsv to out_dir.

    inputs (n, h, w) are at the widefield pixel size, targets (n, h*scale, w*scale) at the
    confocal one; field_ids (n,) name each patch's field. If ``checkpoint_path`` holds a
    checkpoint of the same settings and data, training continues from it (a finished run
    is not trained further); a checkpoint of other settings is refused. ``card_extra``
    (e.g. pixel sizes, sigma) is added to the model card. Returns the training summary.
    """
    inputs = np.asarray(inputs, np.float32)
    targets = np.asarray(targets, np.float32)
    field_ids = np.asarray(field_ids).astype(str)
    n = len(inputs)
    if inputs.ndim != 3 or targets.shape != (n, inputs.shape[1] * scale, inputs.shape[2] * scale):
        raise InputError(
            f"training pairs must be inputs (n, h, w) and targets (n, h*{scale}, w*{scale}); "
            f"got {inputs.shape} and {targets.shape}"
        )
    if len(field_ids) != n or n < 2:
        raise InputError(
            f"need >= 2 pairs with one field id each; got {n} pairs, {len(field_ids)} field ids"
        )
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
            inputs,
            targets,
            field_ids,
            scale,
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
    inputs: np.ndarray,
    targets: np.ndarray,
    field_ids: np.ndarray,
    scale: int,
    params: TrainParams,
    device: torch.device,
    use_amp: bool,
    out_dir: Path,
    checkpoint_path: Path,
    log: Callable[[str], None],
    card_extra: dict[str, Any],
) -> dict[str, Any]:
    """The training loop behind :func:`train_model` (arguments already checked)."""
    fingerprint = _fingerprint(params, scale, [inputs, targets, field_ids])
    torch.manual_seed(params.seed)
    rng = np.random.default_rng(params.seed)
    train_idx, val_idx = split_by_field(field_ids, params.validation_fraction, rng, log)
    model = ResidualUNet(scale, params.base_channels, params.depth).to(device)
    optimizer = torch.optim.Adam(model.parameters(), lr=params.learning_rate)
    steps_per_epoch = math.ceil(len(train_idx) / params.batch_size)
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

    val_in = torch.from_numpy(inputs[val_idx, None]).to(device)
    val_tg = torch.from_numpy(targets[val_idx, None]).to(device)
    spent_s = sum(row["seconds"] for row in state["history"])
    start = time.perf_counter()
    model.train()
    while not state["stopped"]:
        epoch_start = time.perf_counter()
        order = rng.permutation(train_idx)
        loss_sum = 0.0
        for first in range(0, len(order), params.batch_size):
            batch = order[first : first + params.batch_size]
            batch_in, batch_tg = augment(inputs[batch], targets[batch], rng)
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
        "n_train": len(train_idx),
        "n_val": len(val_idx),
        "train_fields": sorted(set(field_ids[train_idx].tolist())),
        "val_fields": sorted(set(field_ids[val_idx].tolist())),
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
        "input_shape_px": list(inputs.shape[1:]),
        "training": summary,
    }
    write_json(out_dir / "card.json", {**card, **card_extra})
    return summary
