"""Train the Topaz picker of one modality."""

import sys

sys.path.insert(0, f"{snakemake.scriptdir}/../../src")  # noqa: F821  (works in any conda env)

from centriole_sr import pipeline  # noqa: E402

pipeline.train_picker(
    snakemake.input.images,
    snakemake.params.fields,
    snakemake.input.labels,
    snakemake.wildcards.modality,
    snakemake.params.factor,
    snakemake.params.picking,
    snakemake.params.pixel_nm,
    snakemake.threads,
    snakemake.output.model,
    snakemake.log[0],
)
