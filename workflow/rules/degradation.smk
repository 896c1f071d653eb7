# The degradation (every sigma, haze and noise), then confocal patches -> widefield-like patches.


rule fit_beads:
    input:
        images=bead_images,
    output:
        table=report(
            "results/psf/beads/{modality}.tsv",
            caption="../report/beads.rst",
            category="2. Degradation",
            labels={"table": "beads", "modality": "{modality}"},
        ),
        figure=report(
            "results/psf/beads/{modality}.png",
            caption="../report/beads.rst",
            category="2. Degradation",
            labels={"figure": "beads", "modality": "{modality}"},
        ),
    log:
        "logs/psf/beads/{modality}.log",
    conda:
        "../../envs/base.yaml"
    resources:
        mem_mb=1000,
        runtime=10,
    params:
        optics=settings("optics"),
    script:
        "../scripts/fit_beads.py"


rule psf_sigma:
    input:
        unpack(degradation_inputs),
    output:
        sigma=report(
            "results/psf/sigma.json",
            caption="../report/sigma.rst",
            category="2. Degradation",
        ),
    log:
        "logs/psf/sigma.log",
    conda:
        "../../envs/base.yaml"
    resources:
        mem_mb=2000,
        runtime=10,
    params:
        optics=settings("optics"),
        degradation={
            key: value
            for key, value in settings("degradation").items()
            if key not in ("beads", "seed")
        },
        beads=bead_modalities(config),
        reading=image_reading(),
    script:
        "../scripts/psf_sigma.py"


rule degrade_patches:
    input:
        patches="results/patches/confocal/{field}.npz",
        sigma="results/psf/sigma.json",
    output:
        pairs="results/degraded/{field}.npz",
    log:
        "logs/degraded/{field}.log",
    benchmark:
        "benchmarks/degraded/{field}.tsv"
    conda:
        "../../envs/base.yaml"
    resources:
        mem_mb=2000,
        runtime=5,
    params:
        seed=config["degradation"]["seed"],
    script:
        "../scripts/degrade_patches.py"


rule degradation_examples:
    input:
        pairs=f"results/degraded/{FIELDS['confocal'][0]}.npz",
        widefield=f"results/patches/widefield/{FIELDS['widefield'][0]}.npz",
    output:
        figure=report(
            "results/degraded/examples.png",
            caption="../report/degradation.rst",
            category="2. Degradation",
        ),
    log:
        "logs/degraded/examples.log",
    conda:
        "../../envs/base.yaml"
    resources:
        mem_mb=1000,
        runtime=5,
    script:
        "../scripts/degradation_examples.py"


rule domain_gap:
    input:
        pairs=expand("results/degraded/{field}.npz", field=FIELDS["confocal"]),
        widefield=expand(
            "results/patches/widefield/{field}.npz", field=FIELDS["widefield"]
        ),
    output:
        gap=report(
            "results/domain_gap/gap.json",
            caption="../report/domain_gap.rst",
            category="2. Degradation",
            labels={"table": "domain gap"},
        ),
        figure=report(
            "results/domain_gap/spectra.png",
            caption="../report/domain_gap.rst",
            category="2. Degradation",
            labels={"figure": "domain gap"},
        ),
    log:
        "logs/domain_gap/domain_gap.log",
    conda:
        "../../envs/base.yaml"
    resources:
        mem_mb=1000,
        runtime=5,
    params:
        widefield_pixel_nm=PIXEL_NM["widefield"],
    script:
        "../scripts/domain_gap.py"
