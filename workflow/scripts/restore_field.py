"""Restore one whole widefield field."""

from centriole_sr.settings import Reading, Restoration
from centriole_sr.stages.restoration import restore_field

restore_field(
    image=snakemake.input.image,
    weights=snakemake.input.weights,
    card=snakemake.input.card,
    pixel_nm=snakemake.params.pixel_nm,
    settings=Restoration.from_dict(snakemake.params.restoration),
    reading=Reading.from_dict(snakemake.params.reading),
    threads=snakemake.threads,
    restored=snakemake.output.restored,
    trust=snakemake.output.trust,
    log=snakemake.log[0],
)
