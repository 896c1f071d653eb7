"""Simulate one demo field imaged by both microscopes."""

import sys

sys.path.insert(0, f"{snakemake.scriptdir}/../../src")  # the package, in any conda env

from centriole_sr import pipeline

pipeline.simulate_demo(
    snakemake.wildcards.field,
    snakemake.params.demo,
    snakemake.params.optics,
    dict(snakemake.output.items()),
    snakemake.log[0],
)
