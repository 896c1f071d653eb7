"""The conda envs repeat the pip pins of pyproject.toml; they must agree."""

import re
import tomllib
from pathlib import Path

import pytest
import yaml

ROOT = Path(__file__).resolve().parents[1]


def _pins(requirements):
    pins = {}
    for requirement in requirements:
        name, version = re.fullmatch(r"([A-Za-z0-9_.\-]+)==(\S+)", requirement).groups()
        pins[name.lower().replace("_", "-")] = version
    return pins


PYPROJECT = _pins(tomllib.loads((ROOT / "pyproject.toml").read_text())["project"]["dependencies"])


@pytest.mark.parametrize("env", sorted((ROOT / "envs").glob("*.yaml")), ids=lambda p: p.name)
def test_env_pins_agree_with_pyproject(env):
    spec = yaml.safe_load(env.read_text())
    pip_lists = [item["pip"] for item in spec["dependencies"] if isinstance(item, dict)]
    assert pip_lists, f"{env.name} has no pip section"
    pins = _pins(pip_lists[0])
    disagreements = {
        name: (v, PYPROJECT.get(name)) for name, v in pins.items() if PYPROJECT.get(name) != v
    }
    assert not disagreements, f"{env.name} disagrees with pyproject.toml: {disagreements}"
    assert "python=3.11" in spec["dependencies"]


def test_every_rule_names_an_existing_env():
    rules = "\n".join(p.read_text() for p in (ROOT / "workflow/rules").glob("*.smk"))
    rule_count = len(re.findall(r"^rule \w+:", rules, flags=re.M))
    envs = re.findall(r'conda:\n\s+"\.\./\.\./(envs/\w+\.yaml)"', rules)
    assert len(envs) == rule_count
    assert all((ROOT / env).is_file() for env in envs)
