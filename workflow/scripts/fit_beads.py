"""Fit the beads of one modality's bead images."""

from centriole_sr.settings import Optics
from centriole_sr.stages.degradation import fit_beads

fit_beads(
    images=snakemake.input.images,
    modality=snakemake.wildcards.modality,
    optics=Optics(**snakemake.params.optics),
    table=snakemake.output.table,
    figure=snakemake.output.figure,
    log=snakemake.log[0],
)
