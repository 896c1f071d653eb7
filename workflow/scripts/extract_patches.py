"""Crop patches around the picks of one field."""

import sys

sys.path.insert(0, f"{snakemake.scriptdir}/../../src")  # noqa: F821  (works in any conda env)

from centriole_sr import pipeline  # noqa: E402

pipeline.extract_field_patches(
    snakemake.input.image,
    snakemake.input.picks,
    snakemake.params.size_px,
    snakemake.params.border,
    snakemake.params.pixel_nm,
    snakemake.output.patches,
    snakemake.log[0],
)
