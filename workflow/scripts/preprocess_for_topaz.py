"""One field downsampled and normalised by topaz preprocess."""

from centriole_sr.stages.picking import preprocess_for_topaz

preprocess_for_topaz(
    mrc=snakemake.input.mrc,
    factor=snakemake.params.factor,
    gmm_sample=snakemake.params.gmm_sample,
    seed=snakemake.params.seed,
    output=snakemake.output.mrc,
    log=snakemake.log[0],
)
