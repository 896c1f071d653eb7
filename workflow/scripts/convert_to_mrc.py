"""Convert one field to float32 MRC for Topaz."""

import sys

sys.path.insert(0, f"{snakemake.scriptdir}/../../src")  # noqa: F821  (works in any conda env)

from centriole_sr import pipeline  # noqa: E402

pipeline.convert_to_mrc(
    snakemake.input.image, snakemake.params.pixel_nm, snakemake.output.mrc, snakemake.log[0]
)
