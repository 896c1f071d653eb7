"""A trained model as a BioImage Model Zoo package (bioimageio.spec 0.5), which Fiji/deepImageJ,
napari, QuPath and bioimageio.core load.

The package holds the network twice (TorchScript, and a PyTorch state dict with
:mod:`centriole_sr.model` as its architecture file, which imports torch only), the pipeline's
normalisation as preprocessing (percentiles 1 and 99.8 of the whole image to 0 and 1), axes in
physical units (nm) with the output at the confocal pixel size, a halo of half the receptive
field, a test input from a widefield field with the network's output for it (bioimageio's test
runs the bare network), a cover image and documentation with the training data and validation
figures. bioimageio.core's blockwise prediction extends an image by mirror symmetry by the
halo, as :func:`centriole_sr.restore.restore_image` does, so the two restore alike (its
whole-sample prediction of images smaller than a block normalises the extended image).
"""

from __future__ import annotations

import inspect
import json
import os
import tempfile
from collections.abc import Mapping
from pathlib import Path
from typing import Any

import numpy as np
import torch

from centriole_sr import io, model
from centriole_sr.restore import Restorer, context_px

PathLike = str | os.PathLike
TEST_INPUT_PX = 128
"""Side of the test input cut from a widefield field (widefield pixels)."""
CITATIONS = {
    "Fang L, et al. Deep learning-based point-scanning super-resolution imaging. Nature "
    "Methods 18, 406-416 (2021)": "10.1038/s41592-021-01080-z",
    "Bepler T, et al. Positive-unlabeled convolutional neural networks for particle picking in "
    "cryo-electron micrographs. Nature Methods 16, 1153-1160 (2019)": "10.1038/s41592-019-0575-8",
}


class _ScriptedUNet(torch.nn.Module):
    """:class:`model.ResidualUNet` for TorchScript: the size-dependent padding, cropping and
    bicubic skip in script, the residual traced (it depends on no image size)."""

    def __init__(self, residual: torch.jit.ScriptModule, scale: int, depth: int) -> None:
        super().__init__()
        self.core, self.scale, self.multiple = residual, scale, 2**depth

    def forward(self, image: torch.Tensor) -> torch.Tensor:
        height, width = image.shape[-2], image.shape[-1]
        pad_y = (self.multiple - height % self.multiple) % self.multiple
        pad_x = (self.multiple - width % self.multiple) % self.multiple
        padded = torch.nn.functional.pad(image, [0, pad_x, 0, pad_y], mode="replicate")
        residual = self.core.residual(padded)[..., : height * self.scale, : width * self.scale]
        upsampled = torch.nn.functional.interpolate(
            image, scale_factor=float(self.scale), mode="bicubic", align_corners=False
        )
        return upsampled + residual


def scripted_network(network: model.ResidualUNet) -> torch.jit.ScriptModule:
    """``network`` as TorchScript that restores images of any size, as it does."""
    example = torch.zeros(1, 1, 4 * 2**network.depth, 4 * 2**network.depth)
    traced = torch.jit.trace_module(network.eval(), {"residual": example})
    return torch.jit.script(_ScriptedUNet(traced, network.scale, network.depth))


def test_input(field: np.ndarray, size_px: int = TEST_INPUT_PX) -> np.ndarray:
    """The ``size_px`` square at the centre of a widefield field (all of it if smaller), as
    float32: the package's test input."""
    height, width = field.shape
    top, left = max((height - size_px) // 2, 0), max((width - size_px) // 2, 0)
    return np.ascontiguousarray(field[top : top + size_px, left : left + size_px], np.float32)


def _documentation(card: Mapping[str, Any], validation: str) -> str:
    training = card.get("training", {})
    sigma = card.get("sigma", {})
    lines = [
        "# centriole-sr widefield → confocal restoration",
        "",
        "Restores widefield fluorescence images of centrioles to confocal-like images at "
        f"{card['confocal_pixel_nm']:g} nm pixels, from widefield images at "
        f"{card['widefield_pixel_nm']:g} nm pixels (×{card['scale']} upsampling). Trained by "
        "centriole-sr on confocal patches degraded as the widefield microscope sees them.",
        "",
        "## Input and output",
        "",
        "- input: one 2D widefield image (y, x), at the pixel size above; normalised inside "
        "the package (percentiles 1 and 99.8 of the whole image to 0 and 1), as in training.",
        "- output: the restoration on the confocal grid, on that normalised scale."
        if card.get("working_pixel_nm", card["confocal_pixel_nm"]) == card["confocal_pixel_nm"]
        else "- output: the restoration, on that normalised scale, on a grid of "
        f"{card['working_pixel_nm']:g} nm pixels (the widefield's / {card['scale']}: the "
        "pixel-size ratio is not a whole number); `centriole-sr restore` resamples it onto "
        "the confocal grid.",
        "",
        "## Training data",
        "",
        f"- training fields: {', '.join(training.get('train_fields', [])) or 'n/a'}",
        f"- validation fields: {', '.join(training.get('val_fields', [])) or 'n/a'}",
        f"- pairs: {training.get('n_train', 'n/a')} training, {training.get('n_val', 'n/a')} "
        "validation",
        f"- degradation: σ_deg {sigma.get('sigma_degradation_nm', float('nan')):.1f} nm, "
        f"haze fraction {sigma.get('haze_fraction', float('nan')):.2f}, peak photons "
        f"{sigma.get('peak_photons', float('nan')):.1f}",
        "",
        "## Validation",
        "",
        validation,
        "",
        "Held-out degraded pairs check the simulation; whole widefield fields against a "
        "confocal reference, where there is one, check the promise.",
    ]
    return "\n".join(lines) + "\n"


def validation_summary(summary: Path | None) -> str:
    """The validation figures of summary.csv (PSNR, SSIM per data set and method) as Markdown."""
    if summary is None or not Path(summary).is_file():
        return "No validation figures were given."
    table = io.read_table(summary)
    columns = ["dataset", "method", "psnr_db_mean", "ssim_mean", "psnr_db_count"]
    shown = table[[c for c in columns if c in table.columns]].dropna(subset=["psnr_db_mean"])
    return shown.to_markdown(index=False, floatfmt=".3f")


def _cover(test_in: np.ndarray, test_out: np.ndarray, path: Path) -> None:
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    figure, axes = plt.subplots(1, 2, figsize=(8, 4), dpi=100)
    for axis, image, title in zip(
        axes, (test_in, test_out), ("widefield", "restored"), strict=True
    ):
        low, high = np.percentile(image, [1, 99.8])
        axis.imshow(image, cmap="magma", vmin=low, vmax=high, interpolation="nearest")
        axis.set_title(title)
        axis.axis("off")
    figure.tight_layout()
    figure.savefig(path)
    plt.close(figure)


def export_bmz(
    restorer: Restorer,
    output: PathLike,
    field: np.ndarray,
    *,
    summary: PathLike | None = None,
    name: str = "centriole-sr widefield to confocal",
) -> Path:
    """Write a trained model (a :class:`Restorer` on the CPU) as a BioImage Model Zoo zip to
    ``output``, with a test input cut from the widefield ``field`` (normalised by the package
    itself) and the validation figures of ``summary`` (summary.csv). bioimageio.spec validates
    the package while it is written. Returns ``output``.
    """
    from bioimageio.spec import ValidationContext, save_bioimageio_package
    from bioimageio.spec.model import v0_5 as bmz

    model_card = restorer.card
    network = restorer.model.eval()
    test_in = test_input(field)
    with torch.inference_mode():  # bioimageio's test output: the bare network, no halo
        normalised = torch.from_numpy(io.normalize_percentile(test_in))[None, None]
        test_out = network(normalised)[0, 0].numpy()
    with tempfile.TemporaryDirectory(prefix="centriole_sr_bmz_") as staging:
        folder = Path(staging)
        np.save(folder / "test_input.npy", test_in[None, None])
        np.save(folder / "test_output.npy", test_out[None, None].astype(np.float32))
        _cover(test_in, restorer.restore(test_in), folder / "cover.png")  # as users restore
        documentation = _documentation(model_card, validation_summary(summary))
        (folder / "README.md").write_text(documentation)
        (folder / "card.json").write_text(json.dumps(model_card, indent=2))
        architecture = folder / "model.py"
        architecture.write_text(inspect.getsource(model))
        state_dict = folder / "weights.pt"
        torch.save(network.state_dict(), state_dict)
        scripted = folder / "weights_torchscript.pt"
        torch.jit.save(scripted_network(network), scripted)

        multiple = 2**network.depth
        halo_px = context_px(network)
        wide_nm, fine_nm = restorer.widefield_pixel_nm, restorer.working_pixel_nm
        input_id = bmz.TensorId("widefield")
        inputs = bmz.InputTensorDescr(
            id=input_id,
            description="widefield image, normalised by the preprocessing",
            axes=[
                bmz.BatchAxis(),
                bmz.ChannelAxis(channel_names=[bmz.Identifier("widefield")]),
                *(
                    bmz.SpaceInputAxis(
                        id=bmz.AxisId(axis),
                        size=bmz.ParameterizedSize(min=2 * halo_px + multiple, step=multiple),
                        unit="nanometer",
                        scale=wide_nm,
                    )
                    for axis in ("y", "x")
                ),
            ],
            test_tensor=bmz.FileDescr(source=folder / "test_input.npy"),
            preprocessing=[
                bmz.ScaleRangeDescr(
                    kwargs=bmz.ScaleRangeKwargs(
                        axes=[bmz.AxisId("y"), bmz.AxisId("x")],
                        min_percentile=1.0,
                        max_percentile=99.8,
                    )
                ),
            ],
        )
        outputs = bmz.OutputTensorDescr(
            id=bmz.TensorId("restored"),
            description=f"restoration at {fine_nm:g} nm pixels, on the normalised scale",
            axes=[
                bmz.BatchAxis(),
                bmz.ChannelAxis(channel_names=[bmz.Identifier("restored")]),
                *(
                    bmz.SpaceOutputAxisWithHalo(
                        id=bmz.AxisId(axis),
                        size=bmz.SizeReference(tensor_id=input_id, axis_id=bmz.AxisId(axis)),
                        halo=halo_px * restorer.scale,
                        unit="nanometer",
                        scale=fine_nm,
                    )
                    for axis in ("y", "x")
                ),
            ],
            test_tensor=bmz.FileDescr(source=folder / "test_output.npy"),
        )
        pytorch_version = bmz.Version(torch.__version__.split("+")[0])
        weights = bmz.WeightsDescr(
            pytorch_state_dict=bmz.PytorchStateDictWeightsDescr(
                source=state_dict,
                architecture=bmz.ArchitectureFromFileDescr(
                    source=architecture,
                    callable=bmz.Identifier("ResidualUNet"),
                    kwargs=dict(model_card["model_args"]),
                ),
                pytorch_version=pytorch_version,
            ),
            torchscript=bmz.TorchscriptWeightsDescr(
                source=scripted, pytorch_version=pytorch_version, parent="pytorch_state_dict"
            ),
        )
        with ValidationContext(perform_io_checks=True, root=folder):
            description = bmz.ModelDescr(
                name=name,
                description=(
                    "Widefield fluorescence images of centrioles restored to confocal quality "
                    f"(x{model_card['scale']} upsampling), trained on simulated pairs by "
                    "centriole-sr."
                ),
                authors=[bmz.Author(name="centriole-sr")],
                cite=[
                    bmz.CiteEntry(text=text, doi=bmz.Doi(doi)) for text, doi in CITATIONS.items()
                ],  # noqa: E501
                license=bmz.LicenseId("MIT"),
                documentation=bmz.FileDescr(source=folder / "README.md"),
                covers=[bmz.FileDescr(source=folder / "cover.png")],
                attachments=[bmz.FileDescr(source=folder / "card.json")],
                tags=["centrioles", "widefield", "confocal", "super-resolution", "pytorch"],
                inputs=[inputs],
                outputs=[outputs],
                weights=weights,
                version=bmz.Version("0.1.0"),
                config={"centriole_sr": {"weights_sha256": restorer.weights_sha256}},
            )
        output = Path(output)
        with io.atomic_path(output) as tmp:
            save_bioimageio_package(description, output_path=tmp.with_suffix(".zip"))
            tmp.with_suffix(".zip").replace(tmp)
    return output
