import os

from snakemake.utils import min_version, validate

from centriole_sr import stages
from centriole_sr.config import bead_images as configured_bead_images
from centriole_sr.config import bead_modalities, check_config, picked_modalities
from centriole_sr.io import find_fields
from centriole_sr.labels import (
    check_labels_inside,
    label_files,
    labelled_fields_by_modality,
)
from centriole_sr.picking import downsample_factor
from centriole_sr.settings import Settings

min_version("9.0")


validate(config, schema="../schemas/config.schema.yaml")
check_config(config)
SETTINGS = Settings.from_config(config)

MODALITIES = ["confocal", "widefield"]
DEMO = config["demo"]["enabled"]
PIXEL_NM = {
    "confocal": config["optics"]["confocal_pixel_nm"],
    "widefield": config["optics"]["widefield_pixel_nm"],
}


wildcard_constraints:
    modality="confocal|widefield",
    field="[^/]+",


def _demo_fields(modality):
    count = config["demo"][f"{modality}_fields"]
    return [f"field{index:02d}" for index in range(count)]


if DEMO:
    IMAGES = {
        modality: {
            f: f"results/demo/{modality}/{f}.tif" for f in _demo_fields(modality)
        }
        for modality in MODALITIES
    }
    FIELDS = {modality: list(IMAGES[modality]) for modality in MODALITIES}
    LABELS = "results/demo/labels.tsv"
    TRUTH = "results/demo/truth/{modality}/{field}.tsv"
    REFERENCE = "results/demo/confocal_clean/{field}.tif"
    LABELLED = {
        modality: FIELDS[modality][: config["demo"]["labelled_fields"]]
        for modality in MODALITIES
    }
else:
    IMAGES = {
        modality: {
            f: str(p) for f, p in find_fields(config["inputs"][modality]).items()
        }
        for modality in MODALITIES
    }
    FIELDS = {modality: list(IMAGES[modality]) for modality in MODALITIES}
    LABELS = config["inputs"]["labels"]
    TRUTH = (
        os.path.join(config["inputs"]["truth"], "{modality}", "{field}.tsv")
        if config["inputs"].get("truth")
        else None
    )
    REFERENCE = (
        os.path.join(config["inputs"]["reference"], "{field}.tif")
        if config["inputs"].get("reference")
        else None
    )
    LABEL_UNITS = {"unit": config["inputs"]["label_unit"], "pixel_nm": PIXEL_NM}
    LABELLED = labelled_fields_by_modality(
        check_labels_inside(LABELS, IMAGES, **LABEL_UNITS), FIELDS
    )

# The modalities that are picked: labelled, or given a picker (picking.model).
PICKED = picked_modalities(LABELLED, config["picking"]["model"], LABELS)


def settings(section):
    """A config section with its keys sorted, for params. Snakemake compares params as written;
    sorted, reordering the keys of a config file reruns nothing."""
    return dict(sorted(config[section].items()))


def fingerprint(stage):
    """A digest of the package modules the stage runs, for params: editing one of them reruns
    exactly the rules of the stages that use it."""
    return stages.fingerprint(stage)


def image_reading():
    """How an input TIFF becomes a 2D field (inputs.channel, inputs.z_stack), for params."""
    return {key: config["inputs"][key] for key in ("channel", "z_stack")}


def field_image(wildcards):
    """The TIFF of one field of one modality."""
    return IMAGES[wildcards.modality][wildcards.field]


def widefield_image(wildcards):
    """The TIFF of one widefield field."""
    return IMAGES["widefield"][wildcards.field]


def picker_files(wildcards):
    """The picker of a modality and its threshold.json: picking.model.<modality> when set
    (a picker trained before, reused without retraining), else the one trained here."""
    model = config["picking"]["model"][wildcards.modality]
    if not model:
        model = f"results/picking/{wildcards.modality}/picker.sav"
    return {
        "model": model,
        "threshold": os.path.join(os.path.dirname(model), "threshold.json"),
    }


def picking_factor(wildcards):
    """Topaz's downsampling factor for a modality (picking.pixel_nm / its pixel size)."""
    return downsample_factor(
        PIXEL_NM[wildcards.modality], config["picking"]["pixel_nm"]
    )


def bead_images(wildcards):
    """The bead images of a modality: the demo's simulated one, or the configured folder's."""
    if DEMO:
        return [f"results/demo/beads/{wildcards.modality}/beads.tif"]
    return configured_bead_images(config, wildcards.modality)


def degradation_inputs(wildcards):
    """What the degradation model is made from: the bead tables of the modalities measured on
    beads and, for haze, blur or noise calibrated on data, the labelled fields of both
    modalities with their patches (all fields of a modality none of whose fields are
    labelled). Only labelled fields: a new acquisition does not change the degradation.
    """
    inputs = {
        f"beads_{modality}": f"results/degradation/beads/{modality}.tsv"
        for modality in bead_modalities(config)
    }
    calibrated = SETTINGS.degradation
    if calibrated.calibrates_noise or calibrated.calibrates_optics:
        fields = {m: LABELLED[m] or FIELDS[m] for m in MODALITIES}
        inputs["calibration_fields"] = [
            IMAGES["widefield"][f] for f in fields["widefield"]
        ]
        if "widefield" in PICKED:
            inputs["calibration_patches"] = expand(
                "results/patches/widefield/{field}.npz", field=fields["widefield"]
            )
        inputs["confocal_fields"] = [IMAGES["confocal"][f] for f in fields["confocal"]]
        inputs["confocal_patches"] = expand(
            "results/patches/confocal/{field}.npz", field=fields["confocal"]
        )
    return inputs


def widefield_picks(wildcards):
    """A widefield field's picks, where the widefield is picked (centriole regions)."""
    if "widefield" not in PICKED:
        return {}
    return {"picks": f"results/picks/widefield/{wildcards.field}.tsv"}


def widefield_patches(fields):
    """The patch files of these widefield fields, where the widefield is picked."""
    if "widefield" not in PICKED:
        return {}
    return {"widefield": expand("results/patches/widefield/{field}.npz", field=fields)}


def truth_fields(modality):
    """The fields of a modality with a complete centre table (inputs.truth); others are not
    scored."""
    if TRUTH is None:
        return []
    if DEMO:
        return FIELDS[modality]
    return [
        f
        for f in FIELDS[modality]
        if os.path.exists(TRUTH.format(modality=modality, field=f))
    ]


def labels_input():
    """The labels for a rule's input: the table or folder, and each file read from it (so
    that editing one file of a folder reruns what reads the labels)."""
    files = [LABELS] if DEMO else [str(path) for path in label_files(LABELS)]
    return {"labels": LABELS, "label_files": files}


def patch_size_px(modality):
    """Patch side in pixels of the modality (confocal: patches.size_px; widefield: the same
    width in widefield pixels, rounded)."""
    size = config["patches"]["size_px"]
    return size if modality == "confocal" else round(size / SETTINGS.optics.pixel_ratio)


def field_references(wildcards):
    """The confocal images of the same sample as a widefield field, where they exist."""
    references = {}
    reference = REFERENCE and REFERENCE.format(field=wildcards.field)
    if reference and (DEMO or os.path.exists(reference)):
        references["reference"] = reference
    if DEMO:
        references["confocal"] = f"results/demo/confocal/{wildcards.field}.tif"
    return references


def noise_free_confocal(wildcards):
    """The demo's noise-free confocal images: the held-out pairs are then also scored
    against noise-free targets. Real data has none."""
    return {"clean": expand(REFERENCE, field=FIELDS["confocal"])} if DEMO else {}


def all_outputs():
    """Every final product: picks, the trained model, restored fields, evaluation tables and
    figures. Listing the model keeps a deleted or failed model from passing as up to date.
    """
    outputs = [f"results/picks/{m}/{f}.tsv" for m in PICKED for f in FIELDS[m]]
    outputs += ["results/degradation/model.json"]
    outputs += expand(
        "results/model/{name}", name=["weights.pt", "card.json", "history.tsv"]
    )
    outputs += expand("results/restored/{field}.tif", field=FIELDS["widefield"])
    if "widefield" in PICKED:
        outputs += expand(
            "results/restored_patches/{field}.tif", field=FIELDS["widefield"]
        )
    outputs += ["results/evaluation/heldout.csv", "results/evaluation/summary.csv"]
    outputs += ["results/model/centriole-sr.bmz.zip"]
    outputs += [
        "results/degradation/examples.png",
        "results/degradation/domain_gap.json",
    ]
    outputs += [
        f"results/evaluation/picking_{m}.csv" for m in PICKED if truth_fields(m)
    ]
    return outputs
