# Tiled restoration of whole widefield fields (with their trust maps) and of the widefield
# patches around picks.


rule restore_field:
    input:
        image=widefield_image,
        weights="results/model/weights.pt",
        card="results/model/card.json",
    output:
        restored="results/restored/{field}.tif",
        trust="results/trust/{field}.tif",
    log:
        "logs/restored/{field}.log",
    benchmark:
        "logs/benchmarks/restored/{field}.tsv"
    conda:
        "../../envs/torch.yaml"
    threads: 2
    resources:
        mem_mb=8000,
        runtime=30,
        gpu=1,
    params:
        restoration=settings("restoration"),
        pixel_nm=PIXEL_NM["widefield"],
        reading=image_reading(),
        package=fingerprint("restoration"),
    script:
        "../scripts/restore_field.py"


rule restore_patches:
    input:
        patches="results/patches/widefield/{field}.npz",
        weights="results/model/weights.pt",
        card="results/model/card.json",
    output:
        restored="results/restored_patches/{field}.tif",
    log:
        "logs/restored_patches/{field}.log",
    benchmark:
        "logs/benchmarks/restored_patches/{field}.tsv"
    conda:
        "../../envs/torch.yaml"
    resources:
        mem_mb=2000,
        runtime=10,
    params:
        pixel_nm=PIXEL_NM["confocal"],
        package=fingerprint("restoration"),
    script:
        "../scripts/restore_patches.py"
