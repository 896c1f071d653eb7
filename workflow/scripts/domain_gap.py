"""Degraded confocal patches against real widefield patches: the domain gap."""

from centriole_sr.stages.degradation import domain_gap

domain_gap(
    pairs=snakemake.input.pairs,
    widefield=snakemake.input.get("widefield", []),
    widefield_pixel_nm=snakemake.params.widefield_pixel_nm,
    gap=snakemake.output.gap,
    figure=snakemake.output.figure,
    log=snakemake.log[0],
)
