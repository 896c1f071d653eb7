# The degradation (every sigma, haze and noise), then confocal fields -> widefield-like fields.


rule fit_beads:
    input:
        images=bead_images,
    output:
        table=report(
            "results/degradation/beads/{modality}.tsv",
            caption="../report/beads.rst",
            category="2. Degradation",
            labels={"table": "beads", "modality": "{modality}"},
        ),
        figure=report(
            "results/degradation/beads/{modality}.png",
            caption="../report/beads.rst",
            category="2. Degradation",
            labels={"figure": "beads", "modality": "{modality}"},
        ),
    log:
        "logs/degradation/beads/{modality}.log",
    conda:
        "../../envs/base.yaml"
    resources:
        mem_mb=1000,
        runtime=10,
    params:
        optics=settings("optics"),
        package=fingerprint("degradation"),
    script:
        "../scripts/fit_beads.py"


rule degradation_model:
    input:
        unpack(degradation_inputs),
    output:
        model=report(
            "results/degradation/model.json",
            caption="../report/degradation_model.rst",
            category="2. Degradation",
        ),
        figure=report(
            "results/degradation/calibration.png",
            caption="../report/calibration.rst",
            category="2. Degradation",
            labels={"figure": "calibration"},
        ),
    log:
        "logs/degradation/model.log",
    conda:
        "../../envs/base.yaml"
    resources:
        mem_mb=4000,
        runtime=20,
    params:
        optics=settings("optics"),
        degradation=settings("degradation"),
        bead_modalities=bead_modalities(config),
        reading=image_reading(),
        package=fingerprint("degradation"),
    script:
        "../scripts/degradation_model.py"


rule degrade_field:
    input:
        image=lambda wildcards: IMAGES["confocal"][wildcards.field],
        picks="results/picks/confocal/{field}.tsv",
        model="results/degradation/model.json",
    output:
        pairs="results/degradation/pairs/{field}.npz",
    log:
        "logs/degradation/pairs/{field}.log",
    benchmark:
        "logs/benchmarks/degradation/pairs/{field}.tsv"
    conda:
        "../../envs/base.yaml"
    resources:
        mem_mb=4000,
        runtime=5,
    params:
        seed=config["degradation"]["seed"],
        pixel_nm=PIXEL_NM["confocal"],
        reading=image_reading(),
        pair_px=patch_size_px("widefield"),
        package=fingerprint("degradation"),
    script:
        "../scripts/degrade_field.py"


rule degradation_examples:
    input:
        unpack(lambda wildcards: widefield_patches(FIELDS["widefield"][:1])),
        pairs=f"results/degradation/pairs/{FIELDS['confocal'][0]}.npz",
    output:
        figure=report(
            "results/degradation/examples.png",
            caption="../report/degradation.rst",
            category="2. Degradation",
        ),
    log:
        "logs/degradation/examples.log",
    conda:
        "../../envs/base.yaml"
    resources:
        mem_mb=1000,
        runtime=5,
    params:
        package=fingerprint("degradation"),
    script:
        "../scripts/degradation_examples.py"


rule domain_gap:
    input:
        unpack(lambda wildcards: widefield_patches(FIELDS["widefield"])),
        pairs=expand("results/degradation/pairs/{field}.npz", field=FIELDS["confocal"]),
    output:
        gap=report(
            "results/degradation/domain_gap.json",
            caption="../report/domain_gap.rst",
            category="2. Degradation",
            labels={"table": "domain gap"},
        ),
        figure=report(
            "results/degradation/domain_gap.png",
            caption="../report/domain_gap.rst",
            category="2. Degradation",
            labels={"figure": "domain gap"},
        ),
    log:
        "logs/degradation/domain_gap.log",
    conda:
        "../../envs/base.yaml"
    resources:
        mem_mb=1000,
        runtime=5,
    params:
        widefield_pixel_nm=PIXEL_NM["widefield"],
        package=fingerprint("degradation"),
    script:
        "../scripts/domain_gap.py"
