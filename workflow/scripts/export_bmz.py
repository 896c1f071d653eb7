"""The trained model as a BioImage Model Zoo package."""

from centriole_sr.settings import Reading
from centriole_sr.stages.export import export_bmz

export_bmz(
    weights=snakemake.input.weights,
    card=snakemake.input.card,
    field=snakemake.input.field,
    summary=snakemake.input.summary,
    pixel_nm=snakemake.params.pixel_nm,
    reading=Reading.from_dict(snakemake.params.reading),
    package=snakemake.output.package,
    log=snakemake.log[0],
)
