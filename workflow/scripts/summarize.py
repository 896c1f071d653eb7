"""Summarise every evaluation in one table and figure."""

import sys

sys.path.insert(0, f"{snakemake.scriptdir}/../../src")  # the package, in any conda env

from centriole_sr import pipeline

pipeline.summarize(
    snakemake.input.fields,
    snakemake.input.heldout,
    snakemake.input.history,
    snakemake.output.summary,
    snakemake.output.figure,
    snakemake.log[0],
)
