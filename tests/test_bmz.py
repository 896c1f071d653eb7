"""The BioImage Model Zoo package: valid, and it restores as the pipeline does (offline)."""

from __future__ import annotations

import numpy as np
import pytest
import torch

from centriole_sr import bmz
from centriole_sr.api import Restorer

from .test_cli import model_dir  # noqa: F401  (the fixture)


def test_torchscript_network_restores_any_size_as_the_network_does(model_dir):  # noqa: F811
    network = Restorer.from_dir(model_dir, device="cpu").model
    scripted = bmz.scripted_network(network)
    with torch.no_grad():
        for shape in ((1, 1, 37, 53), (2, 1, 64, 96)):
            image = torch.rand(shape)
            torch.testing.assert_close(scripted(image), network(image), rtol=0, atol=1e-6)


def test_exported_package_passes_the_model_test_and_restores_as_the_pipeline(
    model_dir,  # noqa: F811
    tmp_path,
):
    """bioimageio.core's own test of both weight formats, then its prediction of the test
    input against the pipeline's restoration of it, within 1e-4."""
    from bioimageio.core import (
        create_prediction_pipeline,
        load_model_description,
        predict,
        test_model,
    )

    field = np.random.default_rng(0).poisson(40, (150, 170)).astype(np.float32)
    package = tmp_path / "model.bmz.zip"
    bmz.export_bmz(Restorer.from_dir(model_dir, device="cpu"), package, field)
    summary = test_model(package)
    assert summary.status == "passed", summary.display() or [
        (d.name, d.errors) for d in summary.details if d.status != "passed"
    ]
    description = load_model_description(package)
    axes = {axis.id: axis for axis in description.outputs[0].axes if hasattr(axis, "unit")}
    assert axes["x"].unit == "nanometer" and axes["x"].scale == pytest.approx(45.0)
    test_in = bmz.test_input(field)
    expected = Restorer.from_dir(model_dir, device="cpu").restore(test_in)
    for weights in ("pytorch_state_dict", "torchscript"):
        pipeline = create_prediction_pipeline(description, weight_format=weights)
        sample = predict(model=pipeline, inputs=test_in[None, None], blocksize_parameter=0)
        restored = next(iter(sample.members.values())).data.to_numpy()[0, 0]
        assert np.abs(restored - expected).max() < 1e-4, weights
