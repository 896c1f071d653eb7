"""Score the picks of one modality against ground truth."""

import sys

sys.path.insert(0, f"{snakemake.scriptdir}/../../src")  # the package, in any conda env

from centriole_sr import pipeline

pipeline.evaluate_picking(
    snakemake.input.picks,
    snakemake.input.truth,
    snakemake.params.fields,
    snakemake.input.images[0],
    snakemake.params.match_radius_px,
    snakemake.params.pixel_nm,
    snakemake.output.table,
    snakemake.output.figure,
    snakemake.log[0],
    reading=snakemake.params.reading,
    labelled=snakemake.params.labelled,
    threshold_path=snakemake.input.threshold,
    curve_output=snakemake.output.curve,
)
