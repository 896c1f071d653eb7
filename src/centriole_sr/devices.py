"""Where torch runs: the config's device settings resolved."""

from __future__ import annotations

import torch

from centriole_sr.io import InputError


def pick_device(device: str, key: str) -> torch.device:
    """Resolve "auto" to CUDA when available; refuse "cuda" without a GPU (``key`` names the
    config setting in the message)."""
    if device == "auto":
        return torch.device("cuda" if torch.cuda.is_available() else "cpu")
    if device == "cuda" and not torch.cuda.is_available():
        raise InputError(f"{key} is 'cuda' but no CUDA GPU is visible; use 'auto' or 'cpu'")
    if device not in ("cpu", "cuda"):
        raise InputError(f"{key} must be 'auto', 'cpu' or 'cuda', got {device!r}")
    return torch.device(device)
