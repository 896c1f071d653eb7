"""The typed config sections: built from the schema-validated config, one class per section."""

import dataclasses

import pytest
import yaml
from snakemake.utils import validate

from centriole_sr import settings
from centriole_sr.settings import Picking, Settings

from .conftest import ROOT

SCHEMA = ROOT / "workflow/schemas/config.schema.yaml"


def _validated(path=ROOT / "config.yaml") -> dict:
    config = yaml.safe_load(path.read_text())
    validate(config, str(SCHEMA))
    return config


def test_every_section_of_the_schema_has_a_class_with_exactly_its_keys():
    schema = yaml.safe_load(SCHEMA.read_text())["properties"]
    classes = {field.name: field.type for field in dataclasses.fields(Settings)}
    assert set(classes) == set(schema)
    for section, class_name in classes.items():
        names = {field.name for field in dataclasses.fields(getattr(settings, class_name))}
        assert names == set(schema[section]["properties"]), section


def test_the_shipped_config_becomes_typed_frozen_sections():
    config = _validated()
    built = Settings.from_config(config)
    assert built.evaluation.rl_iterations == tuple(config["evaluation"]["rl_iterations"])
    assert built.training.ssim_weight == 0  # absent from config.yaml: the schema's default
    assert built.optics.scale == 2
    assert built.inputs.reading == settings.Reading(channel=None, z_stack="max")
    with pytest.raises(dataclasses.FrozenInstanceError):
        built.picking.seed = 2


def test_an_unknown_or_missing_key_names_itself():
    values = _validated()["picking"]
    with pytest.raises(TypeError, match="unknown setting.*colour"):
        Picking.from_dict({**values, "colour": "red"})
    with pytest.raises(TypeError, match="seed"):
        Picking.from_dict({k: v for k, v in values.items() if k != "seed"})


def test_degradation_says_when_its_noise_is_calibrated():
    values = _validated()["degradation"]
    assert settings.Degradation.from_dict(values).calibrates_noise
    fixed = {**values, "peak_photons": 100.0, "read_noise_photons": 2.0}
    assert not settings.Degradation.from_dict(fixed).calibrates_noise


def test_picks_merge_at_three_quarters_of_the_diameter_unless_a_distance_is_given():
    values = _validated()["picking"]
    assert values["min_distance_nm"] == "auto"
    assert Picking.from_dict(values).merge_distance_nm == 0.75 * values["centriole_diameter_nm"]
    larger = Picking.from_dict({**values, "centriole_diameter_nm": 1000.0})
    assert larger.merge_distance_nm == 750.0
    assert Picking.from_dict({**values, "min_distance_nm": 120}).merge_distance_nm == 120.0
