# Metrics against ground truth and baselines, figures and tables for the report.


rule evaluate_picking:
    input:
        picks=lambda wildcards: expand(
            "results/picks/{modality}/{field}.tsv",
            modality=wildcards.modality,
            field=truth_fields(wildcards.modality),
        ),
        truth=lambda wildcards: expand(
            TRUTH, modality=wildcards.modality, field=truth_fields(wildcards.modality)
        ),
        images=lambda wildcards: [
            IMAGES[wildcards.modality][truth_fields(wildcards.modality)[0]]
        ],
        threshold=lambda wildcards: picker_files(wildcards)["threshold"],
    output:
        table=report(
            "results/evaluation/picking_{modality}.csv",
            caption="../report/picking.rst",
            category="1. Picking",
            labels={"table": "picking {modality}"},
        ),
        figure=report(
            "results/evaluation/picking_{modality}.png",
            caption="../report/picking_figure.rst",
            category="1. Picking",
            labels={"figure": "picks {modality}"},
        ),
        curve=report(
            "results/evaluation/picking_{modality}_pr.png",
            caption="../report/picking_pr.rst",
            category="1. Picking",
            labels={"figure": "precision-recall {modality}"},
        ),
    log:
        "logs/evaluation/picking_{modality}.log",
    benchmark:
        "logs/benchmarks/evaluation/picking/{modality}.tsv"
    conda:
        "../../envs/base.yaml"
    resources:
        mem_mb=2000,
        runtime=5,
    params:
        fields=lambda wildcards: truth_fields(wildcards.modality),
        labelled=lambda wildcards: (
            []
            if config["picking"]["model"][wildcards.modality]
            else LABELLED[wildcards.modality]
        ),
        match_radius_px=lambda wildcards: config["evaluation"]["match_radius_nm"]
        / PIXEL_NM[wildcards.modality],
        pixel_nm=lambda wildcards: PIXEL_NM[wildcards.modality],
        reading=image_reading(),
        package=fingerprint("evaluation"),
    script:
        "../scripts/evaluate_picking.py"


rule evaluate_heldout:
    input:
        unpack(noise_free_confocal),
        pairs=expand("results/degradation/pairs/{field}.npz", field=FIELDS["confocal"]),
        weights="results/model/weights.pt",
        card="results/model/card.json",
        model="results/degradation/model.json",
    output:
        table=report(
            "results/evaluation/heldout.csv",
            caption="../report/heldout.rst",
            category="3. Restoration",
            labels={"table": "held-out degraded pairs"},
        ),
        rl_iterations="results/evaluation/rl_iterations.json",
    log:
        "logs/evaluation/heldout.log",
    benchmark:
        "logs/benchmarks/evaluation/heldout/heldout.tsv"
    conda:
        "../../envs/torch.yaml"
    threads: 2
    resources:
        mem_mb=4000,
        runtime=20,
    params:
        rl_iterations=config["evaluation"]["rl_iterations"],
        package=fingerprint("evaluation"),
    script:
        "../scripts/evaluate_heldout.py"


rule evaluate_field:
    input:
        unpack(field_references),
        unpack(widefield_picks),
        widefield=widefield_image,
        restored="results/restored/{field}.tif",
        trust="results/trust/{field}.tif",
        model="results/degradation/model.json",
        rl_iterations="results/evaluation/rl_iterations.json",
    output:
        table=report(
            "results/evaluation/fields/{field}.csv",
            caption="../report/field_table.rst",
            category="5. Checks without ground truth",
            labels={"field": "{field}", "table": "metrics"},
        ),
        gallery=report(
            "results/evaluation/gallery/{field}.png",
            caption="../report/gallery.rst",
            category="4. Gallery",
            labels={"field": "{field}"},
        ),
        maps=report(
            "results/evaluation/maps/{field}.png",
            caption="../report/maps.rst",
            category="5. Checks without ground truth",
            labels={"field": "{field}"},
        ),
    log:
        "logs/evaluation/fields/{field}.log",
    benchmark:
        "logs/benchmarks/evaluation/fields/{field}.tsv"
    conda:
        "../../envs/base.yaml"
    threads: 2
    resources:
        mem_mb=4000,
        runtime=20,
    params:
        consistency_threshold_sigma=config["evaluation"]["consistency_threshold_sigma"],
        region_radius_nm=config["evaluation"]["region_radius_nm"],
        widefield_pixel_nm=PIXEL_NM["widefield"],
        confocal_pixel_nm=PIXEL_NM["confocal"],
        reading=image_reading(),
        package=fingerprint("evaluation"),
    script:
        "../scripts/evaluate_field.py"


rule summarize:
    input:
        fields=expand(
            "results/evaluation/fields/{field}.csv", field=FIELDS["widefield"]
        ),
        heldout="results/evaluation/heldout.csv",
        history="results/model/history.tsv",
        domain_gap="results/degradation/domain_gap.json",
        model="results/degradation/model.json",
        restored=expand("results/restored/{field}.tif", field=FIELDS["widefield"]),
        trust=expand("results/trust/{field}.tif", field=FIELDS["widefield"]),
    output:
        summary=report(
            "results/evaluation/summary.csv",
            caption="../report/summary.rst",
            category="3. Restoration",
            labels={"table": "summary"},
        ),
        figure=report(
            "results/evaluation/summary.png",
            caption="../report/summary_figure.rst",
            category="3. Restoration",
            labels={"figure": "metrics and training curves"},
        ),
        verdict=report(
            "results/evaluation/verdict.csv",
            caption="../report/verdict.rst",
            category="0. Verdict",
            labels={"table": "network against the classical methods"},
        ),
        verdict_figure=report(
            "results/evaluation/verdict.png",
            caption="../report/verdict.rst",
            category="0. Verdict",
            labels={"figure": "verdict"},
        ),
    log:
        "logs/evaluation/summary.log",
    conda:
        "../../envs/base.yaml"
    resources:
        mem_mb=1000,
        runtime=5,
    params:
        domain_gap_warning_db=config["evaluation"]["domain_gap_warning_db"],
        package=fingerprint("evaluation"),
    script:
        "../scripts/summarize.py"
