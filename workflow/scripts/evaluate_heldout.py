"""Network and baselines on the held-out degraded pairs."""

import sys

sys.path.insert(0, f"{snakemake.scriptdir}/../../src")  # the package, in any conda env

from centriole_sr import pipeline

pipeline.evaluate_heldout(
    snakemake.input.pairs,
    snakemake.input.weights,
    snakemake.input.card,
    snakemake.input.sigma,
    snakemake.params.rl_iterations,
    snakemake.output.table,
    snakemake.output.rl_iterations,
    snakemake.log[0],
    clean_paths=snakemake.input.get("clean", []),
    patch_paths=snakemake.input.get("patches", []),
)
