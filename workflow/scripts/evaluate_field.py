"""Score and draw one widefield field's restorations."""

from centriole_sr.settings import Reading
from centriole_sr.stages.evaluation import evaluate_field

evaluate_field(
    widefield=snakemake.input.widefield,
    restored=snakemake.input.restored,
    trust=snakemake.input.trust,
    picks=snakemake.input.get("picks"),
    model=snakemake.input.model,
    rl_iterations=snakemake.input.rl_iterations,
    field=snakemake.wildcards.field,
    widefield_pixel_nm=snakemake.params.widefield_pixel_nm,
    confocal_pixel_nm=snakemake.params.confocal_pixel_nm,
    consistency_threshold_sigma=snakemake.params.consistency_threshold_sigma,
    region_radius_nm=snakemake.params.region_radius_nm,
    reading=Reading.from_dict(snakemake.params.reading),
    reference=snakemake.input.get("reference"),
    confocal=snakemake.input.get("confocal"),
    table=snakemake.output.table,
    gallery=snakemake.output.gallery,
    maps=snakemake.output.maps,
    log=snakemake.log[0],
)
