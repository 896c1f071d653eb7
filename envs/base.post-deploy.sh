#!/usr/bin/env bash
# Snakemake runs this once in the new conda env (--sdm conda), from the directory it runs in:
# the repository root. The env then imports centriole_sr from the repository's src/, as the
# rule scripts expect; --no-deps, as the env's pins already hold every dependency.
set -euo pipefail
python -m pip install --no-deps --editable .
