"""Downsample and normalise one field with topaz preprocess."""

import sys

sys.path.insert(0, f"{snakemake.scriptdir}/../../src")  # noqa: F821  (works in any conda env)

from centriole_sr import pipeline  # noqa: E402

pipeline.preprocess_for_topaz(
    snakemake.input.mrc, snakemake.params.factor, snakemake.output.mrc, snakemake.log[0]
)
