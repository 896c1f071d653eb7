"""Convert one field to float32 MRC for Topaz."""

import sys

sys.path.insert(0, f"{snakemake.scriptdir}/../../src")  # the package, in any conda env

from centriole_sr import pipeline

pipeline.convert_to_mrc(
    snakemake.input.image,
    snakemake.params.pixel_nm,
    snakemake.params.saturate_percentile,
    snakemake.output.mrc,
    snakemake.log[0],
    reading=snakemake.params.reading,
)
