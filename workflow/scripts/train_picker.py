"""Train the Topaz picker of one modality."""

import sys

sys.path.insert(0, f"{snakemake.scriptdir}/../../src")  # the package, in any conda env

from centriole_sr import pipeline

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
    snakemake.output.threshold,
    snakemake.log[0],
    field_images=snakemake.input.field_images,
    reference_paths=snakemake.input.references,
    match_radius_nm=snakemake.params.match_radius_nm,
    reading=snakemake.params.reading,
)
