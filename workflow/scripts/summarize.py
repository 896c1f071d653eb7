"""The summary table and figure; the verdict."""

from centriole_sr.stages.evaluation import summarize

summarize(
    fields=snakemake.input.fields,
    heldout=snakemake.input.heldout,
    history=snakemake.input.history,
    domain_gap=snakemake.input.domain_gap,
    model=snakemake.input.model,
    restored=snakemake.input.restored,
    trust=snakemake.input.trust,
    domain_gap_warning_db=snakemake.params.domain_gap_warning_db,
    summary=snakemake.output.summary,
    figure=snakemake.output.figure,
    verdict=snakemake.output.verdict,
    verdict_figure=snakemake.output.verdict_figure,
    log=snakemake.log[0],
)
