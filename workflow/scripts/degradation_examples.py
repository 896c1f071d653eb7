"""Degraded confocal patches beside real widefield patches."""

from centriole_sr.stages.degradation import degradation_examples

degradation_examples(
    pairs=snakemake.input.pairs,
    widefield=snakemake.input.get("widefield", [None])[0],
    figure=snakemake.output.figure,
    log=snakemake.log[0],
)
