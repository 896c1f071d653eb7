"""Checks of the configuration beyond its JSON schema."""

from __future__ import annotations

import glob
import logging
import os
from typing import Any

from centriole_sr.io import InputError


def check_config(config: dict[str, Any]) -> None:
    """Raise InputError naming the key when settings contradict each other."""
    optics = config["optics"]
    if optics["numerical_aperture"] >= optics["refractive_index"]:
        raise InputError(
            f"optics.numerical_aperture ({optics['numerical_aperture']}) must be smaller than "
            f"optics.refractive_index ({optics['refractive_index']})"
        )
    ratio = optics["widefield_pixel_nm"] / optics["confocal_pixel_nm"]
    if ratio < 1 - 1e-6:
        raise InputError(
            f"optics.widefield_pixel_nm ({optics['widefield_pixel_nm']:g}) is smaller than "
            f"optics.confocal_pixel_nm ({optics['confocal_pixel_nm']:g}); the widefield's "
            "pixels must be the coarser ones"
        )
    demo = config["demo"]
    if demo["enabled"] and demo["labelled_fields"] > demo["confocal_fields"]:
        raise InputError(
            f"demo.labelled_fields ({demo['labelled_fields']}) exceeds demo.confocal_fields "
            f"({demo['confocal_fields']})"
        )
    if not demo["enabled"]:
        for modality in bead_modalities(config):
            folder = config["degradation"]["beads"].get(modality) or ""
            if not bead_images(config, modality):
                raise InputError(
                    f"degradation.beads.{modality}: no bead images (*.tif) in '{folder}', and "
                    f"degradation.sigma_source.{modality} is beads; point it to a folder of "
                    "bead TIFFs or choose optics or computed"
                )
        for key in ("confocal", "widefield", "labels"):
            path = config["inputs"].get(key)
            if not path or not os.path.exists(path):
                raise InputError(
                    f"inputs.{key}: '{path}' does not exist; set it in config.yaml "
                    "or turn demo.enabled on"
                )


def bead_modalities(config: dict[str, Any]) -> list[str]:
    """The modalities whose PSF width comes from bead images."""
    sources = config["degradation"]["sigma_source"]
    return [modality for modality in ("confocal", "widefield") if sources[modality] == "beads"]


def bead_images(config: dict[str, Any], modality: str) -> list[str]:
    """The bead TIFFs in ``degradation.beads.<modality>`` (none when it is unset), sorted."""
    folder = config["degradation"]["beads"].get(modality) or ""
    return sorted(glob.glob(os.path.join(folder, "*.tif"))) if folder else []


def picked_modalities(
    labelled: dict[str, list[str]], models: dict[str, str], labels: str | os.PathLike
) -> list[str]:
    """The modalities that are picked: those with labelled fields or a picker given in
    ``picking.model``. The confocal must be (training crops lie around its picks); a widefield
    without either is not picked, and the log says what that leaves out."""
    picked = [m for m in ("confocal", "widefield") if labelled.get(m) or models.get(m)]
    if "confocal" not in picked:
        raise InputError(
            f"{labels}: no labels for any confocal field, and picking.model.confocal is empty; "
            "the network trains on crops around confocal picks: click a few centrioles on "
            "two or more confocal fields, or give a picker trained before"
        )
    if "widefield" not in picked:
        logging.getLogger("centriole_sr.config").warning(
            "%s: no widefield labels and no picking.model.widefield: the widefield fields are "
            "restored and scored without picks (no widefield patches, picking evaluation, "
            "centriole regions or calibration on widefield picks; the PSF's haze is used)",
            labels,
        )
    return picked
