# The restoration network: degraded -> confocal pairs, validation split by field.


rule train_model:
    input:
        pairs=expand("results/degraded/{field}.npz", field=FIELDS["confocal"]),
        sigma="results/psf/sigma.json",
    output:
        weights="results/model/weights.pt",
        card="results/model/card.json",
        history="results/model/history.tsv",
    params:
        training=config["training"],
        optics=config["optics"],
        checkpoint="results/model/resume/checkpoint.pt",
    threads: 4
    log:
        "logs/model/train.log",
    benchmark:
        "benchmarks/model/train.tsv"
    resources:
        mem_mb=8000,
        runtime=120,
        gpu=config.get("resources", {}).get("gpu", 0),
    conda:
        "../../envs/torch.yaml"
    script:
        "../scripts/train_model.py"
