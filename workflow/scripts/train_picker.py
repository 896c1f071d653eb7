"""Train and calibrate the Topaz picker of one modality."""

from centriole_sr.settings import Picking, Reading
from centriole_sr.stages.picking import LabelledFields, train_picker

train_picker(
    labelled=LabelledFields(
        modality=snakemake.wildcards.modality,
        fields=snakemake.params.fields,
        images=snakemake.input.images,
        field_images=snakemake.input.field_images,
        labels=snakemake.input.labels,
        label_unit=snakemake.params.label_unit,
        references=snakemake.input.references,
        factor=snakemake.params.factor,
        pixel_nm=snakemake.params.pixel_nm,
        reading=Reading.from_dict(snakemake.params.reading),
    ),
    settings=Picking.from_dict(snakemake.params.picking),
    match_radius_nm=snakemake.params.match_radius_nm,
    threads=snakemake.threads,
    model=snakemake.output.model,
    threshold=snakemake.output.threshold,
    log=snakemake.log[0],
)
