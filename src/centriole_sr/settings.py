"""One typed, frozen class per config section, built from the schema-validated config.

The defaults live in workflow/schemas/config.schema.yaml only: Snakemake fills them in while
validating, so every field here is required. Rules pass a section as a plain dict (Snakemake
compares params as written, and reruns a rule whose settings changed); a stage turns it into its
class with ``Section.from_dict``.
"""

from __future__ import annotations

import math
from collections.abc import Mapping
from dataclasses import dataclass, fields
from typing import Any, Literal, Self

from centriole_sr.grid import is_whole, working_scale
from centriole_sr.io import InputError


class _Section:
    @classmethod
    def from_dict(cls, values: Mapping[str, Any]) -> Self:
        """The section from its config dict; lists become tuples (the classes are frozen)."""
        names = {field.name for field in fields(cls)}  # type: ignore[arg-type]
        unknown = sorted(set(values) - names)
        if unknown:
            raise TypeError(f"{cls.__name__}: unknown setting(s) {', '.join(unknown)}")
        return cls(**{k: tuple(v) if isinstance(v, list) else v for k, v in values.items()})


@dataclass(frozen=True)
class Demo(_Section):
    """``demo``: the embedded simulated data set."""

    enabled: bool
    seed: int
    confocal_fields: int
    widefield_fields: int
    labelled_fields: int
    labels_per_field: int
    field_size_px: int
    centrioles_per_field: int | tuple[int, int]
    clutter_per_field: int
    sample_thickness_nm: float
    background_fraction: float
    widefield_camera: Literal["scmos", "emccd"]


@dataclass(frozen=True)
class Inputs(_Section):
    """``inputs``: the user's folders and tables (read when ``demo.enabled`` is false)."""

    confocal: str
    widefield: str
    labels: str
    label_unit: Literal["px", "um", "nm"]
    truth: str
    reference: str
    channel: int | str | None
    z_stack: Literal["max", "sharpest"]

    @property
    def reading(self) -> Reading:
        """How an input TIFF becomes a 2D field."""
        return Reading(channel=self.channel, z_stack=self.z_stack)


@dataclass(frozen=True)
class Reading(_Section):
    """``inputs.channel`` and ``inputs.z_stack``: how an input TIFF becomes a 2D field."""

    channel: int | str | None
    z_stack: Literal["max", "sharpest"]


@dataclass(frozen=True)
class Picking(_Section):
    """``picking``: Topaz training, extraction, rescoring and the threshold."""

    pixel_nm: float
    centriole_diameter_nm: float
    expected_per_field: int
    saturate_percentile: float
    gmm_sample: int
    epochs: int
    epoch_size: int
    rescore: bool
    threshold: float | Literal["auto"]
    min_distance_nm: float | Literal["auto"]
    seed: int
    model: Mapping[str, str]

    @property
    def merge_distance_nm(self) -> float:
        """Picks closer than this are merged: ``min_distance_nm``, or 0.75 x the diameter."""
        if self.min_distance_nm == "auto":
            return 0.75 * self.centriole_diameter_nm
        return float(self.min_distance_nm)

    def centriole_radius_px(self, pixel_nm: float) -> float:
        """Half of ``centriole_diameter_nm`` in pixels of ``pixel_nm``."""
        return self.centriole_diameter_nm / 2 / pixel_nm


@dataclass(frozen=True)
class Patches(_Section):
    """``patches``: crops around the picks."""

    size_px: int
    border: Literal["drop", "pad"]


@dataclass(frozen=True)
class Degradation(_Section):
    """``degradation``: where every sigma, the haze and the noise come from."""

    sigma_source: Mapping[str, str]
    beads: Mapping[str, str]
    defocus_range_nm: float
    sample_thickness_nm: float
    haze_fraction: float | Literal["auto", "psf"]
    haze_sigma_nm: float | Literal["auto", "psf"]
    fit_sigma: bool
    peak_photons: float | Literal["auto"]
    read_noise_photons: float | Literal["auto"]
    seed: int

    @property
    def calibrates_optics(self) -> bool:
        """Whether haze or blur are fitted on the widefield fields."""
        return self.fit_sigma or "auto" in (self.haze_fraction, self.haze_sigma_nm)

    @property
    def calibrates_noise(self) -> bool:
        """Whether the noise is calibrated on widefield fields (either noise key is auto)."""
        return "auto" in (self.peak_photons, self.read_noise_photons)


@dataclass(frozen=True)
class Training(_Section):
    """``training``: the restoration network and its optimisation."""

    epochs: int
    batch_size: int
    crop_px: int
    crops_per_epoch: int
    centriole_fraction: float
    learning_rate: float
    validation_fraction: float
    max_minutes: float
    early_stopping_patience: int
    base_channels: int
    depth: int
    seed: int
    ssim_weight: float
    device: Literal["auto", "cpu", "cuda"]


@dataclass(frozen=True)
class Restoration(_Section):
    """``restoration``: tiled inference on whole widefield fields."""

    tile_px: int
    batch_size: int
    device: Literal["auto", "cpu", "cuda"]
    output_dtype: Literal["float32", "input"]
    ensemble: int


@dataclass(frozen=True)
class Evaluation(_Section):
    """``evaluation``: picking and restoration metrics, the consistency check."""

    match_radius_nm: float
    region_radius_nm: float
    rl_iterations: tuple[int, ...]
    consistency_threshold_sigma: float
    domain_gap_warning_db: float


@dataclass(frozen=True)
class Optics:
    """``optics``: the two microscopes; validated on creation (defaults: the demo's)."""

    numerical_aperture: float = 1.4
    refractive_index: float = 1.518  # immersion medium
    excitation_nm: float = 488.0
    emission_nm: float = 520.0
    pinhole_airy_units: float = 1.0
    confocal_pixel_nm: float = 45.0
    widefield_pixel_nm: float = 90.0

    def __post_init__(self) -> None:
        self.validate()

    def validate(self) -> None:
        """Raise InputError naming the ``optics.<key>`` that cannot be used."""
        for field in fields(self):
            value = getattr(self, field.name)
            if not isinstance(value, int | float) or not math.isfinite(value):
                raise InputError(f"optics.{field.name} must be a finite number, got {value!r}")
        for name in ("confocal_pixel_nm", "widefield_pixel_nm", "excitation_nm", "emission_nm"):
            if getattr(self, name) <= 0:
                raise InputError(f"optics.{name} must be > 0 nm, got {getattr(self, name)}")
        if self.numerical_aperture <= 0:
            raise InputError(
                f"optics.numerical_aperture must be > 0, got {self.numerical_aperture}"
            )
        if self.numerical_aperture >= self.refractive_index:
            raise InputError(
                f"optics.numerical_aperture ({self.numerical_aperture}) must be smaller than "
                f"optics.refractive_index ({self.refractive_index})"
            )
        if self.pinhole_airy_units < 0:
            raise InputError(
                f"optics.pinhole_airy_units must be >= 0, got {self.pinhole_airy_units}"
            )
        if self.pixel_ratio < 1 - 1e-6:
            raise InputError(
                f"optics.widefield_pixel_nm ({self.widefield_pixel_nm:g}) is smaller than "
                f"optics.confocal_pixel_nm ({self.confocal_pixel_nm:g}); the widefield's pixels "
                "must be the coarser ones"
            )

    @property
    def pixel_ratio(self) -> float:
        """Widefield pixel size / confocal pixel size (any number >= 1)."""
        return self.widefield_pixel_nm / self.confocal_pixel_nm

    @property
    def scale(self) -> int:
        """The network's whole upsampling factor, ceil(pixel_ratio) (:mod:`centriole_sr.grid`)."""
        return working_scale(self.pixel_ratio)

    @property
    def working_pixel_nm(self) -> float:
        """The pitch of the network's output grid: the confocal pixel for a whole ratio."""
        if is_whole(self.pixel_ratio):
            return self.confocal_pixel_nm
        return self.widefield_pixel_nm / self.scale


@dataclass(frozen=True)
class Settings:
    """Every section of a validated config, typed."""

    demo: Demo
    inputs: Inputs
    optics: Optics
    picking: Picking
    patches: Patches
    degradation: Degradation
    training: Training
    restoration: Restoration
    evaluation: Evaluation

    @classmethod
    def from_config(cls, config: Mapping[str, Any]) -> Settings:
        """All sections of ``config`` (validated against the schema, defaults filled in)."""
        sections = {}
        for field in fields(cls):
            kind = globals()[field.type]
            values = config[field.name]
            sections[field.name] = Optics(**values) if kind is Optics else kind.from_dict(values)
        return cls(**sections)
