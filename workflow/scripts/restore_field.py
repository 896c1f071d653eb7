"""Restore one whole widefield field."""

import sys

sys.path.insert(0, f"{snakemake.scriptdir}/../../src")  # the package, in any conda env

from centriole_sr import pipeline

pipeline.restore_field(
    snakemake.input.image,
    snakemake.input.weights,
    snakemake.input.card,
    snakemake.params.pixel_nm,
    snakemake.params.restoration,
    snakemake.threads,
    snakemake.output.restored,
    snakemake.log[0],
    reading=snakemake.params.reading,
)
