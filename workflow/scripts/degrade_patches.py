"""Degrade the confocal patches of one field into training pairs."""

import sys

sys.path.insert(0, f"{snakemake.scriptdir}/../../src")  # the package, in any conda env

from centriole_sr import pipeline

pipeline.degrade_field_patches(
    snakemake.input.patches,
    snakemake.input.sigma,
    snakemake.params.seed,
    snakemake.wildcards.field,
    snakemake.output.pairs,
    snakemake.log[0],
)
