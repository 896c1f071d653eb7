"""Simulate one demo field imaged by both microscopes."""

from centriole_sr.settings import Optics
from centriole_sr.simulate import DemoParams
from centriole_sr.stages.demo import simulate_demo

simulate_demo(
    field=snakemake.wildcards.field,
    sample=DemoParams(**snakemake.params.sample),
    seed=snakemake.params.seed,
    optics=Optics(**snakemake.params.optics),
    outputs=dict(snakemake.output.items()),
    log=snakemake.log[0],
)
