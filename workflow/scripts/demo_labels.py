"""A few clicked centres per labelled demo field."""

from centriole_sr.settings import Optics
from centriole_sr.stages.demo import demo_labels

demo_labels(
    centres=snakemake.input.centres,
    labels_per_field=snakemake.params.labels_per_field,
    seed=snakemake.params.seed,
    optics=Optics(**snakemake.params.optics),
    output=snakemake.output.labels,
    log=snakemake.log[0],
)
