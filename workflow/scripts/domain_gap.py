"""Measure how far degraded confocal patches are from real widefield patches."""

import sys

sys.path.insert(0, f"{snakemake.scriptdir}/../../src")  # the package, in any conda env

from centriole_sr import pipeline

pipeline.domain_gap(
    snakemake.input.pairs,
    snakemake.input.widefield,
    snakemake.params.widefield_pixel_nm,
    snakemake.output.gap,
    snakemake.output.figure,
    snakemake.log[0],
)
