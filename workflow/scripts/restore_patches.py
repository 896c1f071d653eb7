"""Restore the widefield patches of one field."""

import sys

sys.path.insert(0, f"{snakemake.scriptdir}/../../src")  # the package, in any conda env

from centriole_sr import pipeline

pipeline.restore_field_patches(
    snakemake.input.patches,
    snakemake.input.weights,
    snakemake.input.card,
    snakemake.output.restored,
    snakemake.log[0],
)
