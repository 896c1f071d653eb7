"""One field, checked, saturated and negated, as MRC for Topaz."""

from centriole_sr.settings import Reading
from centriole_sr.stages.picking import convert_to_mrc

convert_to_mrc(
    image=snakemake.input.image,
    pixel_nm=snakemake.params.pixel_nm,
    saturate_percentile=snakemake.params.saturate_percentile,
    reading=Reading.from_dict(snakemake.params.reading),
    output=snakemake.output.mrc,
    log=snakemake.log[0],
)
