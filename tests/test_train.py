"""Tests of training: field split, augmentation, outputs, determinism and resume."""

import functools

import numpy as np
import pandas as pd
import pytest
import torch
import torch.nn.functional as F
from scipy import ndimage
from skimage.metrics import structural_similarity

from centriole_sr.io import read_json
from centriole_sr.model import ResidualUNet
from centriole_sr.train import (
    TrainParams,
    augment,
    split_by_field,
    ssim_torch,
    train_model,
    training_loss,
)


def _pairs(n: int = 24, size_px: int = 16, seed: int = 0):
    """Blurred, block-averaged point images (inputs) and sharp ones (targets), 3 fields."""
    rng = np.random.default_rng(seed)
    targets = np.zeros((n, 2 * size_px, 2 * size_px), np.float32)
    for target in targets:
        points = rng.integers(2, 2 * size_px - 2, size=(40, 2))
        target[points[:, 0], points[:, 1]] = 1.0
        target[:] = ndimage.gaussian_filter(target, 1.0) * 6
    blurred = ndimage.gaussian_filter(targets, (0, 1.5, 1.5))
    inputs = blurred.reshape(n, size_px, 2, size_px, 2).mean(axis=(2, 4)).astype(np.float32)
    fields = np.array([f"field{i % 3}" for i in range(n)])
    return inputs, targets, fields


PARAMS = TrainParams(
    epochs=3, batch_size=8, learning_rate=2e-3, seed=1, base_channels=4, depth=1, device="cpu"
)


def _weights(out_dir) -> dict[str, torch.Tensor]:
    return torch.load(out_dir / "weights.pt", weights_only=True)


def test_split_holds_out_whole_fields():
    fields = np.repeat(["a", "b", "c", "d"], 5)
    train, val = split_by_field(fields, 0.25, np.random.default_rng(0), print)
    assert len(set(fields[train]) & set(fields[val])) == 0
    assert len(set(fields[val])) == 1
    assert sorted(np.concatenate([train, val])) == list(range(20))


def test_split_of_one_field_falls_back_to_patches_with_a_warning():
    messages = []
    train, val = split_by_field(
        np.repeat(["a"], 8), 0.25, np.random.default_rng(0), messages.append
    )
    assert len(val) == 2 and len(train) == 6
    assert "warning" in messages[0]


def test_augmentation_transforms_input_and_target_alike():
    inputs = np.random.default_rng(0).random((16, 5, 5), dtype=np.float32)
    targets = np.kron(inputs, np.ones((1, 2, 2), np.float32))
    aug_in, aug_tg = augment(inputs, targets, np.random.default_rng(1))
    assert np.array_equal(aug_tg, np.kron(aug_in, np.ones((1, 2, 2), np.float32)))
    assert not np.array_equal(aug_in, inputs)


@pytest.mark.parametrize("noise", [0.0, 0.05, 0.3])
def test_ssim_loss_term_is_scikit_image_ssim(noise):
    rng = np.random.default_rng(0)
    target = ndimage.gaussian_filter(rng.random((41, 36)), 2).astype(np.float32)
    prediction = (target + noise * rng.standard_normal(target.shape)).astype(np.float32)
    expected = structural_similarity(prediction, target, data_range=1.0)
    as_tensor = [torch.from_numpy(image)[None, None] for image in (prediction, target)]
    assert float(ssim_torch(*as_tensor)) == pytest.approx(expected, abs=1e-4)
    l1 = float(F.l1_loss(*as_tensor))
    assert float(training_loss(*as_tensor, 0.0)) == pytest.approx(l1)
    mixed = float(training_loss(*as_tensor, 0.5))
    assert mixed == pytest.approx(0.5 * l1 + 0.5 * (1 - expected), abs=1e-4)


def test_training_writes_outputs_and_learns(tmp_path):
    inputs, targets, fields = _pairs()
    params = TrainParams(**{**PARAMS.__dict__, "epochs": 8, "learning_rate": 3e-3})
    summary = train_model(
        inputs,
        targets,
        fields,
        2,
        params,
        tmp_path / "model",
        tmp_path / "ckpt.pt",
        log=lambda message: None,
        card_extra={"widefield_pixel_nm": 90.0},
    )
    card = read_json(tmp_path / "model" / "card.json")
    assert card["model_args"] == {"scale": 2, "base_channels": 4, "depth": 1}
    assert card["widefield_pixel_nm"] == 90.0
    assert card["normalization"]["name"].endswith("normalize_percentile")
    history = pd.read_csv(tmp_path / "model" / "history.tsv", sep="\t")
    assert list(history.columns) == ["epoch", "train_loss", "val_loss", "val_psnr", "seconds"]
    assert len(history) == 8 and summary["stopped"] == "completed"
    assert summary["best_val_loss"] == history["val_loss"].min()
    assert not set(summary["val_fields"]) & set(summary["train_fields"])
    # better than the untrained network (bicubic upsampling) on the validation fields
    val = np.isin(fields, summary["val_fields"])
    bicubic = F.interpolate(torch.from_numpy(inputs[val, None]), scale_factor=2, mode="bicubic")
    assert summary["best_val_loss"] < 0.97 * float(
        F.l1_loss(bicubic, torch.from_numpy(targets[val, None]))
    )
    model = ResidualUNet(**card["model_args"])
    model.load_state_dict(_weights(tmp_path / "model"))


def test_training_is_deterministic_for_a_seed(tmp_path):
    inputs, targets, fields = _pairs()
    for run in ("a", "b"):
        train_model(
            inputs,
            targets,
            fields,
            2,
            PARAMS,
            tmp_path / run,
            tmp_path / f"{run}.pt",
            log=lambda message: None,
        )
    first, second = _weights(tmp_path / "a"), _weights(tmp_path / "b")
    assert all(torch.equal(first[name], second[name]) for name in first)


class _Killed(Exception):
    pass


def test_interrupted_training_resumes_to_identical_weights(tmp_path):
    inputs, targets, fields = _pairs()
    train_model(
        inputs,
        targets,
        fields,
        2,
        PARAMS,
        tmp_path / "whole",
        tmp_path / "whole.pt",
        log=lambda message: None,
    )

    def kill_after_first_epoch(message: str) -> None:
        if message.startswith("epoch 1/"):
            raise _Killed

    in_parts = functools.partial(
        train_model, inputs, targets, fields, 2, PARAMS, tmp_path / "parts", tmp_path / "parts.pt"
    )
    with pytest.raises(_Killed):
        in_parts(log=kill_after_first_epoch)
    assert not (tmp_path / "parts" / "weights.pt").exists()
    messages = []
    summary = in_parts(log=messages.append)
    assert summary["resumed_from_epoch"] == 1
    assert messages[0].startswith("resuming")
    assert len(pd.read_csv(tmp_path / "parts" / "history.tsv", sep="\t")) == 3
    whole, parts = _weights(tmp_path / "whole"), _weights(tmp_path / "parts")
    assert all(torch.equal(whole[name], parts[name]) for name in whole)


def test_checkpoint_of_other_settings_or_unreadable_starts_afresh(tmp_path):
    inputs, targets, fields = _pairs()
    one_epoch = TrainParams(**{**PARAMS.__dict__, "epochs": 1})
    train_model(inputs, targets, fields, 2, one_epoch, tmp_path / "a", tmp_path / "c.pt", log=print)
    messages: list[str] = []
    summary = train_model(
        inputs, targets, fields, 2, PARAMS, tmp_path / "b", tmp_path / "c.pt", log=messages.append
    )
    assert "other settings or data" in messages[0]
    assert summary["resumed_from_epoch"] == 0 and summary["epochs_run"] == PARAMS.epochs
    train_model(
        inputs, targets, fields, 2, PARAMS, tmp_path / "fresh", tmp_path / "f.pt", log=print
    )
    assert all(
        torch.equal(a, b)
        for a, b in zip(
            _weights(tmp_path / "b").values(), _weights(tmp_path / "fresh").values(), strict=True
        )
    )
    (tmp_path / "c.pt").write_bytes(b"not a checkpoint")
    messages.clear()
    train_model(
        inputs, targets, fields, 2, PARAMS, tmp_path / "d", tmp_path / "c.pt", log=messages.append
    )
    assert "unreadable" in messages[0]
