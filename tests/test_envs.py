"""The conda envs repeat the pip pins of pyproject.toml; they must agree."""

import os
import re
import subprocess
import sys
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


@pytest.mark.parametrize("env", sorted((ROOT / "envs").glob("*.yaml")), ids=lambda p: p.name)
def test_every_env_installs_the_package_after_creation(env, tmp_path):
    """Snakemake runs envs/<env>.post-deploy.sh in a new conda env from the repository root;
    here it runs in a bare venv, which then imports the package from this checkout."""
    script = env.with_name(f"{env.stem}.post-deploy.sh")
    assert script.is_file(), f"{script.name} is missing"
    if env.name != "base.yaml":
        assert script.read_text() == env.with_name("base.post-deploy.sh").read_text()
        return
    venv = tmp_path / "env"
    subprocess.run([sys.executable, "-m", "venv", venv], check=True)
    path = f"{venv / 'bin'}{os.pathsep}{os.environ['PATH']}"
    subprocess.run(["bash", script], cwd=ROOT, env={**os.environ, "PATH": path}, check=True,
                   capture_output=True)  # fmt: skip
    found = subprocess.run(
        [venv / "bin/python", "-c", "import centriole_sr.stages as s; print(s.PACKAGE)"],
        check=True, capture_output=True, text=True,
    ).stdout.strip()  # fmt: skip
    assert found == str(ROOT / "src" / "centriole_sr")
