"""The whole degradation: every sigma with its source, the haze and the noise."""

import sys

sys.path.insert(0, f"{snakemake.scriptdir}/../../src")  # the package, in any conda env

from centriole_sr import pipeline

pipeline.degradation_model(
    snakemake.params.optics,
    snakemake.params.degradation,
    {modality: snakemake.input[f"beads_{modality}"] for modality in snakemake.params.beads},
    {
        "fields": snakemake.input.get("calibration_fields", []),
        "field_patches": snakemake.input.get("calibration_patches", []),
        "confocal_patches": snakemake.input.get("confocal_patches", []),
    },
    snakemake.params.reading,
    snakemake.output.sigma,
    snakemake.log[0],
)
