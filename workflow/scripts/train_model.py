"""Train the restoration network."""

import sys

sys.path.insert(0, f"{snakemake.scriptdir}/../../src")  # noqa: F821  (works in any conda env)

from centriole_sr import pipeline  # noqa: E402

pipeline.train_network(
    snakemake.input.pairs,
    snakemake.input.sigma,
    snakemake.params.training,
    snakemake.threads,
    snakemake.output.weights,
    snakemake.params.checkpoint,
    snakemake.log[0],
)
