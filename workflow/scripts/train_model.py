"""Train the restoration network."""

from centriole_sr.settings import Training
from centriole_sr.stages.training import train_model

train_model(
    pairs=snakemake.input.pairs,
    model=snakemake.input.model,
    settings=Training.from_dict(snakemake.params.training),
    threads=snakemake.threads,
    weights=snakemake.output.weights,
    checkpoint=snakemake.params.checkpoint,
    log=snakemake.log[0],
)
