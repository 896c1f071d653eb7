"""The run's config.yaml as the workflow sees it: validated, with the schema's defaults."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import yaml
from snakemake.utils import validate


def load_config(root: Path) -> dict[str, Any]:
    """``root``/config.yaml validated against the workflow's schema, defaults filled in."""
    config = yaml.safe_load((root / "config.yaml").read_text())
    validate(config, str(root / "workflow/schemas/config.schema.yaml"))
    return config
