"""Downsample and normalise one field with topaz preprocess."""

import sys

sys.path.insert(0, f"{snakemake.scriptdir}/../../src")  # the package, in any conda env

from centriole_sr import pipeline

pipeline.preprocess_for_topaz(
    snakemake.input.mrc,
    snakemake.params.factor,
    snakemake.output.mrc,
    snakemake.log[0],
    sample=snakemake.params.gmm_sample,
    seed=snakemake.params.seed,
)
