# Topaz picking: MRC conversion, preprocessing, picker training from labels, extraction.


rule convert_to_mrc:
    input:
        image=field_image,
    output:
        mrc=temp("results/picking/{modality}/mrc/{field}.mrc"),
    log:
        "logs/picking/convert/{modality}/{field}.log",
    benchmark:
        "logs/benchmarks/picking/convert/{modality}/{field}.tsv"
    conda:
        "../../envs/base.yaml"
    resources:
        mem_mb=2000,
        runtime=5,
    params:
        pixel_nm=lambda wildcards: PIXEL_NM[wildcards.modality],
        saturate_percentile=config["picking"]["saturate_percentile"],
        reading=image_reading(),
        package=fingerprint("picking"),
    script:
        "../scripts/convert_to_mrc.py"


rule preprocess_for_topaz:
    input:
        mrc="results/picking/{modality}/mrc/{field}.mrc",
    output:
        mrc="results/picking/{modality}/preprocessed/{field}.mrc",
    log:
        "logs/picking/preprocess/{modality}/{field}.log",
    benchmark:
        "logs/benchmarks/picking/preprocess/{modality}/{field}.tsv"
    conda:
        "../../envs/topaz.yaml"
    resources:
        mem_mb=4000,
        runtime=10,
    params:
        factor=picking_factor,
        gmm_sample=config["picking"]["gmm_sample"],
        seed=config["picking"]["seed"],
        package=fingerprint("picking"),
    script:
        "../scripts/preprocess_for_topaz.py"


rule train_picker:
    input:
        unpack(lambda wildcards: labels_input()),
        images=lambda wildcards: expand(
            "results/picking/{modality}/preprocessed/{field}.mrc",
            modality=wildcards.modality,
            field=LABELLED[wildcards.modality],
        ),
        field_images=lambda wildcards: [
            IMAGES[wildcards.modality][field] for field in LABELLED[wildcards.modality]
        ],
        references=lambda wildcards: [
            TRUTH.format(modality=wildcards.modality, field=f)
            for f in truth_fields(wildcards.modality)
            if f in LABELLED[wildcards.modality]
        ],
    output:
        model="results/picking/{modality}/picker.sav",
        threshold="results/picking/{modality}/threshold.json",
    log:
        "logs/picking/train/{modality}.log",
    benchmark:
        "logs/benchmarks/picking/train/{modality}.tsv"
    conda:
        "../../envs/topaz.yaml"
    threads: 2
    resources:
        mem_mb=8000,
        runtime=60,
    params:
        fields=lambda wildcards: LABELLED[wildcards.modality],
        label_unit=config["inputs"]["label_unit"],
        factor=picking_factor,
        picking=settings("picking"),
        pixel_nm=lambda wildcards: PIXEL_NM[wildcards.modality],
        match_radius_nm=config["evaluation"]["match_radius_nm"],
        reading=image_reading(),
        package=fingerprint("picking"),
    script:
        "../scripts/train_picker.py"


rule pick_centrioles:
    input:
        unpack(picker_files),
        image="results/picking/{modality}/preprocessed/{field}.mrc",
        field=field_image,
    output:
        picks="results/picks/{modality}/{field}.tsv",
        napari="results/picks/{modality}/{field}.csv",
    log:
        "logs/picking/extract/{modality}/{field}.log",
    benchmark:
        "logs/benchmarks/picking/extract/{modality}/{field}.tsv"
    conda:
        "../../envs/topaz.yaml"
    threads: 2
    resources:
        mem_mb=4000,
        runtime=15,
    params:
        factor=picking_factor,
        pixel_nm=lambda wildcards: PIXEL_NM[wildcards.modality],
        picking=settings("picking"),
        reading=image_reading(),
        package=fingerprint("picking"),
    script:
        "../scripts/pick_centrioles.py"
