# The trained model as a BioImage Model Zoo package (bioimage.io model, format 0.5).


rule export_bmz:
    input:
        weights="results/model/weights.pt",
        card="results/model/card.json",
        field=IMAGES["widefield"][FIELDS["widefield"][0]],
        summary="results/evaluation/summary.csv",
    output:
        package="results/model/centriole-sr.bmz.zip",
    log:
        "logs/export/bmz.log",
    conda:
        "../../envs/torch.yaml"
    resources:
        mem_mb=2000,
        runtime=10,
    params:
        pixel_nm=PIXEL_NM["widefield"],
        reading=image_reading(),
        package=fingerprint("export"),
    script:
        "../scripts/export_bmz.py"
