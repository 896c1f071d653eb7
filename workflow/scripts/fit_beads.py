"""Fit the beads of one microscope's bead images."""

import sys

sys.path.insert(0, f"{snakemake.scriptdir}/../../src")  # the package, in any conda env

from centriole_sr import pipeline

pipeline.fit_bead_images(
    snakemake.input.images,
    snakemake.wildcards.modality,
    snakemake.params.optics,
    snakemake.output.table,
    snakemake.output.figure,
    snakemake.log[0],
)
