"""Degraded training pairs from one field's confocal patches."""

from centriole_sr.stages.degradation import degrade_patches

degrade_patches(
    patches=snakemake.input.patches,
    model=snakemake.input.model,
    seed=snakemake.params.seed,
    field=snakemake.wildcards.field,
    pairs=snakemake.output.pairs,
    log=snakemake.log[0],
)
