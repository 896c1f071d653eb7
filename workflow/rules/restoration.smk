# Tiled restoration of whole widefield fields and of the widefield patches around picks.


rule restore_field:
    input:
        image=widefield_image,
        weights="results/model/weights.pt",
        card="results/model/card.json",
    output:
        restored="results/restored/{field}.tif",
    params:
        restoration=config["restoration"],
        pixel_nm=PIXEL_NM["widefield"],
    threads: 2
    log:
        "logs/restored/{field}.log",
    benchmark:
        "benchmarks/restored/{field}.tsv"
    resources:
        mem_mb=8000,
        runtime=30,
        gpu=config.get("resources", {}).get("gpu", 0),
    conda:
        "../../envs/torch.yaml"
    script:
        "../scripts/restore_field.py"


rule restore_patches:
    input:
        patches="results/patches/widefield/{field}.npz",
        weights="results/model/weights.pt",
        card="results/model/card.json",
    output:
        restored="results/restored_patches/{field}.tif",
    params:
        pixel_nm=PIXEL_NM["confocal"],
    log:
        "logs/restored_patches/{field}.log",
    resources:
        mem_mb=2000,
        runtime=10,
    conda:
        "../../envs/torch.yaml"
    script:
        "../scripts/restore_patches.py"
