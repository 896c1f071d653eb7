"""Draw degraded confocal patches beside real widefield patches."""

import sys

sys.path.insert(0, f"{snakemake.scriptdir}/../../src")  # the package, in any conda env

from centriole_sr import pipeline

pipeline.degradation_examples(
    snakemake.input.pairs, snakemake.input.widefield, snakemake.output.figure, snakemake.log[0]
)
