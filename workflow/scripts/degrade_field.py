"""One whole confocal field degraded for training, and its pick-centred pairs."""

from centriole_sr.settings import Reading
from centriole_sr.stages.degradation import degrade_field

degrade_field(
    image=snakemake.input.image,
    picks=snakemake.input.picks,
    model=snakemake.input.model,
    seed=snakemake.params.seed,
    field=snakemake.wildcards.field,
    pixel_nm=snakemake.params.pixel_nm,
    reading=Reading.from_dict(snakemake.params.reading),
    pair_px=snakemake.params.pair_px,
    pairs=snakemake.output.pairs,
    log=snakemake.log[0],
)
