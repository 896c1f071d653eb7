"""Crop patches around the picks of one field."""

import sys

sys.path.insert(0, f"{snakemake.scriptdir}/../../src")  # the package, in any conda env

from centriole_sr import pipeline

pipeline.extract_field_patches(
    snakemake.input.image,
    snakemake.input.picks,
    snakemake.params.size_px,
    snakemake.params.border,
    snakemake.params.pixel_nm,
    snakemake.output.patches,
    snakemake.log[0],
    reading=snakemake.params.reading,
)
