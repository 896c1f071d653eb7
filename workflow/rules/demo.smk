# The embedded demo: one 3D sample per field imaged by a confocal and a widefield microscope.


rule simulate_demo:
    output:
        confocal="results/demo/confocal/{field}.tif",
        confocal_clean="results/demo/confocal_clean/{field}.tif",
        widefield="results/demo/widefield/{field}.tif",
        truth_confocal="results/demo/truth/confocal/{field}.tsv",
        truth_widefield="results/demo/truth/widefield/{field}.tsv",
        centres="results/demo/centres/{field}.tsv",
    log:
        "logs/demo/simulate/{field}.log",
    benchmark:
        "logs/benchmarks/demo/simulate/{field}.tsv"
    conda:
        "../../envs/base.yaml"
    resources:
        mem_mb=4000,
        runtime=15,
    params:
        sample={
            key: config["demo"][key]
            for key in (
                "field_size_px",
                "centrioles_per_field",
                "clutter_per_field",
                "sample_thickness_nm",
                "background_fraction",
                "widefield_camera",
            )
        },
        seed=config["demo"]["seed"],
        optics=settings("optics"),
        package=fingerprint("demo"),
    script:
        "../scripts/simulate_demo.py"


rule demo_labels:
    input:
        centres=expand(
            "results/demo/centres/{field}.tsv",
            field=FIELDS["confocal"][: config["demo"]["labelled_fields"]],
        ),
    output:
        labels="results/demo/labels.tsv",
    log:
        "logs/demo/labels.log",
    conda:
        "../../envs/base.yaml"
    resources:
        mem_mb=500,
        runtime=5,
    params:
        labels_per_field=config["demo"]["labels_per_field"],
        seed=config["demo"]["seed"],
        optics=settings("optics"),
        package=fingerprint("demo"),
    script:
        "../scripts/demo_labels.py"


rule simulate_beads:
    output:
        image="results/demo/beads/{modality}/beads.tif",
    log:
        "logs/demo/beads/{modality}.log",
    conda:
        "../../envs/base.yaml"
    resources:
        mem_mb=1000,
        runtime=5,
    params:
        seed=config["demo"]["seed"],
        optics=settings("optics"),
        package=fingerprint("demo"),
    script:
        "../scripts/simulate_beads.py"
