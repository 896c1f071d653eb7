"""A bead image of one demo microscope."""

from centriole_sr.settings import Optics
from centriole_sr.stages.demo import simulate_beads

simulate_beads(
    modality=snakemake.wildcards.modality,
    seed=snakemake.params.seed,
    optics=Optics(**snakemake.params.optics),
    output=snakemake.output.image,
    log=snakemake.log[0],
)
