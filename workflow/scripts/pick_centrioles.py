"""Pick the centrioles of one field with the trained Topaz picker."""

import sys

sys.path.insert(0, f"{snakemake.scriptdir}/../../src")  # the package, in any conda env

from centriole_sr import pipeline

pipeline.pick_centrioles(
    snakemake.input.model,
    snakemake.input.threshold,
    snakemake.input.image,
    snakemake.input.field,
    snakemake.params.factor,
    snakemake.params.pixel_nm,
    snakemake.params.picking,
    snakemake.output.picks,
    snakemake.log[0],
    reading=snakemake.params.reading,
    threads=snakemake.threads,
)
