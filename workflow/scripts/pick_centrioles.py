"""Pick the centrioles of one field."""

from centriole_sr.settings import Picking, Reading
from centriole_sr.stages.picking import pick_centrioles

pick_centrioles(
    model=snakemake.input.model,
    threshold=snakemake.input.threshold,
    image=snakemake.input.image,
    field=snakemake.input.field,
    factor=snakemake.params.factor,
    pixel_nm=snakemake.params.pixel_nm,
    settings=Picking.from_dict(snakemake.params.picking),
    reading=Reading.from_dict(snakemake.params.reading),
    threads=snakemake.threads,
    output=snakemake.output.picks,
    napari=snakemake.output.napari,
    log=snakemake.log[0],
)
