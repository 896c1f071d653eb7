"""Picking precision, recall and F1 against ground truth."""

from centriole_sr.settings import Reading
from centriole_sr.stages.evaluation import evaluate_picking

evaluate_picking(
    picks=snakemake.input.picks,
    truth=snakemake.input.truth,
    fields=snakemake.params.fields,
    image=snakemake.input.images[0],
    match_radius_px=snakemake.params.match_radius_px,
    pixel_nm=snakemake.params.pixel_nm,
    reading=Reading.from_dict(snakemake.params.reading),
    labelled=snakemake.params.labelled,
    threshold=snakemake.input.threshold,
    table=snakemake.output.table,
    figure=snakemake.output.figure,
    curve=snakemake.output.curve,
    log=snakemake.log[0],
)
