# Fixed-size crops around the picks: confocal crops become targets, widefield crops inputs.


rule extract_patches:
    input:
        image=field_image,
        picks="results/picks/{modality}/{field}.tsv",
    output:
        patches="results/patches/{modality}/{field}.npz",
    log:
        "logs/patches/{modality}/{field}.log",
    benchmark:
        "logs/benchmarks/patches/{modality}/{field}.tsv"
    conda:
        "../../envs/base.yaml"
    resources:
        mem_mb=2000,
        runtime=5,
    params:
        size_px=lambda wildcards: patch_size_px(wildcards.modality),
        border=config["patches"]["border"],
        pixel_nm=lambda wildcards: PIXEL_NM[wildcards.modality],
        reading=image_reading(),
        package=fingerprint("patches"),
    script:
        "../scripts/extract_patches.py"
