# Fixed-size crops around the picks: confocal crops become targets, widefield crops inputs.


def patch_size_px(modality):
    scale = round(config["optics"]["widefield_pixel_nm"] / config["optics"]["confocal_pixel_nm"])
    size = config["patches"]["size_px"]
    return size if modality == "confocal" else size // scale


rule extract_patches:
    input:
        image=field_image,
        picks="results/picks/{modality}/{field}.tsv",
    output:
        patches="results/patches/{modality}/{field}.npz",
    params:
        size_px=lambda wildcards: patch_size_px(wildcards.modality),
        border=config["patches"]["border"],
        pixel_nm=lambda wildcards: PIXEL_NM[wildcards.modality],
    log:
        "logs/patches/{modality}/{field}.log",
    resources:
        mem_mb=2000,
        runtime=5,
    conda:
        "../../envs/base.yaml"
    script:
        "../scripts/extract_patches.py"
