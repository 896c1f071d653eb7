"""The summary table and figure."""

from centriole_sr.stages.evaluation import summarize

summarize(
    fields=snakemake.input.fields,
    heldout=snakemake.input.heldout,
    history=snakemake.input.history,
    summary=snakemake.output.summary,
    figure=snakemake.output.figure,
    log=snakemake.log[0],
)
