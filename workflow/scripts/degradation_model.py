"""The whole degradation: every sigma with its source, the haze and the noise."""

from centriole_sr.settings import Degradation, Optics, Reading
from centriole_sr.stages.degradation import degradation_model

degradation_model(
    optics=Optics(**snakemake.params.optics),
    settings=Degradation.from_dict(snakemake.params.degradation),
    bead_tables={m: snakemake.input[f"beads_{m}"] for m in snakemake.params.bead_modalities},
    calibration_fields=snakemake.input.get("calibration_fields", []),
    calibration_patches=snakemake.input.get("calibration_patches", []),
    confocal_fields=snakemake.input.get("confocal_fields", []),
    confocal_patches=snakemake.input.get("confocal_patches", []),
    reading=Reading.from_dict(snakemake.params.reading),
    output=snakemake.output.model,
    figure=snakemake.output.figure,
    log=snakemake.log[0],
)
