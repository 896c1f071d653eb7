"""Simulate the demo's bead image of one microscope."""

import sys

sys.path.insert(0, f"{snakemake.scriptdir}/../../src")  # the package, in any conda env

from centriole_sr import pipeline

pipeline.simulate_demo_beads(
    snakemake.wildcards.modality,
    snakemake.params.seed,
    snakemake.params.optics,
    snakemake.output.image,
    snakemake.log[0],
)
