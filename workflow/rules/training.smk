# The restoration network: degraded -> confocal pairs, validation split by field.


rule train_model:
    input:
        pairs=expand("results/degradation/pairs/{field}.npz", field=FIELDS["confocal"]),
        model="results/degradation/model.json",
    output:
        weights="results/model/weights.pt",
        card="results/model/card.json",
        history="results/model/history.tsv",
    log:
        "logs/model/train.log",
    benchmark:
        "logs/benchmarks/model/train.tsv"
    conda:
        "../../envs/torch.yaml"
    threads: 4
    resources:
        mem_mb=8000,
        runtime=120,
        gpu=1,
    params:
        training=settings("training"),
        optics=settings("optics"),
        checkpoint="results/model/resume/checkpoint.pt",
        package=fingerprint("training"),
    script:
        "../scripts/train_model.py"
