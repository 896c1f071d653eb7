"""The network and the baselines on held-out degraded pairs."""

from centriole_sr.stages.evaluation import evaluate_heldout

evaluate_heldout(
    pairs=snakemake.input.pairs,
    weights=snakemake.input.weights,
    card=snakemake.input.card,
    model=snakemake.input.model,
    rl_candidates=snakemake.params.rl_iterations,
    clean=snakemake.input.get("clean", []),
    table=snakemake.output.table,
    rl_iterations=snakemake.output.rl_iterations,
    log=snakemake.log[0],
)
