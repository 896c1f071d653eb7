"""Restore one whole widefield field."""

import sys

sys.path.insert(0, f"{snakemake.scriptdir}/../../src")  # noqa: F821  (works in any conda env)

from centriole_sr import pipeline  # noqa: E402

pipeline.restore_field(
    snakemake.input.image,
    snakemake.input.weights,
    snakemake.input.card,
    snakemake.params.pixel_nm,
    snakemake.params.restoration,
    snakemake.output.restored,
    snakemake.log[0],
)
