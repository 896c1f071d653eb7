"""Evaluate one restored widefield field and draw its gallery."""

import sys

sys.path.insert(0, f"{snakemake.scriptdir}/../../src")  # the package, in any conda env

from centriole_sr import pipeline

pipeline.evaluate_field(
    snakemake.input.widefield,
    snakemake.input.restored,
    snakemake.input.picks,
    snakemake.input.sigma,
    snakemake.input.rl_iterations,
    snakemake.params.consistency_threshold_sigma,
    snakemake.params.widefield_pixel_nm,
    snakemake.params.confocal_pixel_nm,
    snakemake.wildcards.field,
    snakemake.output.table,
    snakemake.output.gallery,
    snakemake.output.maps,
    reference_path=snakemake.input.get("reference"),
    confocal_path=snakemake.input.get("confocal"),
    log_path=snakemake.log[0],
    reading=snakemake.params.reading,
)
