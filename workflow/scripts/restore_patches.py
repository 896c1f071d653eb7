"""Restore the widefield patches around the picks of one field."""

from centriole_sr.stages.restoration import restore_patches

restore_patches(
    patches=snakemake.input.patches,
    weights=snakemake.input.weights,
    card=snakemake.input.card,
    restored=snakemake.output.restored,
    log=snakemake.log[0],
)
