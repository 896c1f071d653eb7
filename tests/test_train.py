"""Tests of training: field split, augmentation, outputs, determinism and resume."""

import functools

import numpy as np
import pandas as pd
import pytest
import torch
import torch.nn.functional as F
from scipy import ndimage
from skimage.metrics import structural_similarity

from centriole_sr.degrade import Degradation, degrade_field
from centriole_sr.io import InputError, read_json
from centriole_sr.model import ResidualUNet
from centriole_sr.train import (
    CropSampler,
    TrainingField,
    TrainParams,
    augment,
    split_by_field,
    ssim_torch,
    train_model,
    training_loss,
)

DEGRADATION = Degradation(sigma_px=1.5, scale=2, haze_fraction=0.0, peak_photons=1e4,
                          read_noise_photons=0.0)  # fmt: skip


def _fields(n: int = 3, size_px: int = 96, seed: int = 0) -> list[TrainingField]:
    """Confocal fields of blurred points, degraded, with their points as picks."""
    rng = np.random.default_rng(seed)
    fields = []
    for i in range(n):
        confocal = np.zeros((size_px, size_px), np.float32)
        points = rng.integers(2, size_px - 2, size=(60, 2))
        confocal[points[:, 0], points[:, 1]] = 1.0
        confocal = ndimage.gaussian_filter(confocal, 1.0)
        degraded = degrade_field(confocal, DEGRADATION, seed=i)
        fields.append(TrainingField(f"field{i}", degraded, points.astype(float)))
    return fields


PARAMS = TrainParams(
    epochs=3, batch_size=8, learning_rate=2e-3, seed=1, base_channels=4, depth=1, device="cpu",
    crop_px=16, crops_per_epoch=24,
)  # fmt: skip


def _weights(out_dir) -> dict[str, torch.Tensor]:
    return torch.load(out_dir / "weights.pt", weights_only=True)


def test_split_holds_out_whole_fields():
    fields = _fields(4, size_px=32)
    train, val = split_by_field(fields, 0.25, 2, np.random.default_rng(0), print)
    assert len(val) == 1 and len(train) == 3
    assert {f.name for f in train} | {f.name for f in val} == {f.name for f in fields}


def test_split_of_one_field_holds_out_its_last_rows_with_a_warning():
    messages = []
    field = _fields(1, size_px=64)[0]
    train, val = split_by_field([field], 0.25, 2, np.random.default_rng(0), messages.append)
    assert train[0].field.signal_photons.shape == (24, 32)
    assert val[0].field.target.shape == (16, 64)
    np.testing.assert_array_equal(val[0].field.target, field.field.target[48:])
    rows = field.centres_yx_px[:, 0]
    assert len(val[0].centres_yx_px) == (rows >= 48).sum()
    assert val[0].centres_yx_px[:, 0].min() >= 0
    assert "warning" in messages[0]


def test_crops_align_input_and_target_and_lie_around_picks():
    """A crop's input is its target degraded (no noise here): the same physical area; a
    crop drawn around a pick holds it in its central half."""
    field = _fields(1, size_px=96)[0]
    picks = field.centres_yx_px[:3]
    field = TrainingField(field.name, field.field, picks)
    sampler = CropSampler([field], DEGRADATION, crop_px=16, centriole_fraction=1.0)
    inputs, targets = sampler.sample(12, np.random.default_rng(0))
    assert inputs.shape == (12, 16, 16) and targets.shape == (12, 32, 32)
    for image, target in zip(inputs, targets, strict=True):
        (top, left), *_ = [
            (top, left)
            for top in range(0, 96 - 32 + 1, 2)
            for left in range(0, 96 - 32 + 1, 2)
            if np.array_equal(field.field.target[top : top + 32, left : left + 32], target)
        ]
        signal = field.field.signal_photons[top // 2 : top // 2 + 16, left // 2 : left // 2 + 16]
        assert np.corrcoef(image.ravel(), signal.ravel())[0, 1] > 0.99
        inside = np.all((picks >= [top + 7, left + 7]) & (picks < [top + 25, left + 25]), axis=1)
        near_border = np.any((picks < 16) | (picks >= 80), axis=1)  # crops are clipped there
        assert inside.any() or near_border.any()


def test_fields_smaller_than_a_crop_are_refused():
    with pytest.raises(InputError, match="training.crop_px"):
        CropSampler(_fields(1, size_px=24), DEGRADATION, crop_px=16, centriole_fraction=0.5)


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
    fields = _fields()
    params = TrainParams(
        **{**PARAMS.__dict__, "epochs": 8, "learning_rate": 3e-3, "crops_per_epoch": 96}
    )
    summary = train_model(
        fields,
        DEGRADATION,
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
    assert card["normalization"]["over"] == "whole field"
    # better than the untrained network (bicubic upsampling) on validation crops
    val = [f for f in fields if f.name in summary["val_fields"]]
    sampler = CropSampler(val, DEGRADATION, params.crop_px, params.centriole_fraction)
    inputs, targets = sampler.sample(params.crops_per_epoch, np.random.default_rng([1, 1]))
    bicubic = F.interpolate(torch.from_numpy(inputs[:, None]), scale_factor=2, mode="bicubic")
    assert summary["best_val_loss"] < 0.97 * float(
        F.l1_loss(bicubic, torch.from_numpy(targets[:, None]))
    )
    model = ResidualUNet(**card["model_args"])
    model.load_state_dict(_weights(tmp_path / "model"))


def test_training_is_deterministic_for_a_seed(tmp_path):
    fields = _fields()
    for run in ("a", "b"):
        train_model(
            fields,
            DEGRADATION,
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
    fields = _fields()
    train_model(
        fields,
        DEGRADATION,
        PARAMS,
        tmp_path / "whole",
        tmp_path / "whole.pt",
        log=lambda message: None,
    )

    def kill_after_first_epoch(message: str) -> None:
        if message.startswith("epoch 1/"):
            raise _Killed

    in_parts = functools.partial(
        train_model, fields, DEGRADATION, PARAMS, tmp_path / "parts", tmp_path / "parts.pt"
    )
    with pytest.raises(_Killed):
        in_parts(log=kill_after_first_epoch)
    assert not (tmp_path / "parts" / "weights.pt").exists()
    messages = []
    summary = in_parts(log=messages.append)
    assert summary["resumed_from_epoch"] == 1
    assert any(message.startswith("resuming") for message in messages)
    assert len(pd.read_csv(tmp_path / "parts" / "history.tsv", sep="\t")) == 3
    whole, parts = _weights(tmp_path / "whole"), _weights(tmp_path / "parts")
    assert all(torch.equal(whole[name], parts[name]) for name in whole)


def test_checkpoint_of_other_settings_or_unreadable_starts_afresh(tmp_path):
    fields = _fields()
    one_epoch = TrainParams(**{**PARAMS.__dict__, "epochs": 1})
    train_model(fields, DEGRADATION, one_epoch, tmp_path / "a", tmp_path / "c.pt", log=print)
    messages: list[str] = []
    summary = train_model(
        fields, DEGRADATION, PARAMS, tmp_path / "b", tmp_path / "c.pt", log=messages.append
    )
    assert any("other settings or data" in message for message in messages)
    assert summary["resumed_from_epoch"] == 0 and summary["epochs_run"] == PARAMS.epochs
    train_model(fields, DEGRADATION, PARAMS, tmp_path / "fresh", tmp_path / "f.pt", log=print)
    assert all(
        torch.equal(a, b)
        for a, b in zip(
            _weights(tmp_path / "b").values(), _weights(tmp_path / "fresh").values(), strict=True
        )
    )
    (tmp_path / "c.pt").write_bytes(b"not a checkpoint")
    messages.clear()
    train_model(fields, DEGRADATION, PARAMS, tmp_path / "d", tmp_path / "c.pt", log=messages.append)
    assert any("unreadable" in message for message in messages)
