"""Crop patches around the picks of one field."""

from centriole_sr.settings import Reading
from centriole_sr.stages.patches import extract_patches

extract_patches(
    image=snakemake.input.image,
    picks=snakemake.input.picks,
    size_px=snakemake.params.size_px,
    border=snakemake.params.border,
    pixel_nm=snakemake.params.pixel_nm,
    reading=Reading.from_dict(snakemake.params.reading),
    output=snakemake.output.patches,
    log=snakemake.log[0],
)
