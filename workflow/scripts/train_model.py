"""Train the restoration network."""

import sys

sys.path.insert(0, f"{snakemake.scriptdir}/../../src")  # the package, in any conda env

from centriole_sr import pipeline

pipeline.train_network(
    snakemake.input.pairs,
    snakemake.input.sigma,
    snakemake.params.training,
    snakemake.threads,
    snakemake.output.weights,
    snakemake.params.checkpoint,
    snakemake.log[0],
)
