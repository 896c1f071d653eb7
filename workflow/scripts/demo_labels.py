"""Write the demo's sparse labels table."""

import sys

sys.path.insert(0, f"{snakemake.scriptdir}/../../src")  # the package, in any conda env

from centriole_sr import pipeline

pipeline.demo_labels(
    snakemake.input.centres,
    snakemake.params.labels_per_field,
    snakemake.params.seed,
    snakemake.params.optics,
    snakemake.output.labels,
    snakemake.log[0],
)
