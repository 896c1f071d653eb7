# centriole-sr: widefield -> confocal-quality restoration of centrioles.
# Data flow and conventions: docs/method.md, docs/outputs.md. Run: snakemake --cores all


configfile: "config.yaml"


report: "workflow/report/workflow.rst"


include: "workflow/rules/common.smk"
include: "workflow/rules/demo.smk"
include: "workflow/rules/picking.smk"
include: "workflow/rules/patches.smk"
include: "workflow/rules/degradation.smk"
include: "workflow/rules/training.smk"
include: "workflow/rules/restoration.smk"
include: "workflow/rules/evaluation.smk"
include: "workflow/rules/export.smk"


rule all:
    default_target: True
    input:
        all_outputs(),
