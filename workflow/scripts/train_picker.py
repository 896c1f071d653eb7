"""Train and calibrate the Topaz picker of one modality."""

from centriole_sr.settings import Picking, Reading
from centriole_sr.stages.picking import train_picker

train_picker(
    images=snakemake.input.images,
    field_images=snakemake.input.field_images,
    fields=snakemake.params.fields,
    labels=snakemake.input.labels,
    references=snakemake.input.references,
    modality=snakemake.wildcards.modality,
    factor=snakemake.params.factor,
    pixel_nm=snakemake.params.pixel_nm,
    settings=Picking.from_dict(snakemake.params.picking),
    reading=Reading.from_dict(snakemake.params.reading),
    match_radius_nm=snakemake.params.match_radius_nm,
    threads=snakemake.threads,
    model=snakemake.output.model,
    threshold=snakemake.output.threshold,
    log=snakemake.log[0],
)
