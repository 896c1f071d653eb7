"""Tests of the residual U-Net: shapes, bicubic start, receptive field."""

import pytest
import torch
import torch.nn.functional as F

from centriole_sr.devices import pick_device
from centriole_sr.io import InputError
from centriole_sr.model import ResidualUNet


def _randomised(model: ResidualUNet, seed: int = 0) -> ResidualUNet:
    """Give every parameter random values (the untrained residual branch is zero)."""
    generator = torch.Generator().manual_seed(seed)
    with torch.no_grad():
        for parameter in model.parameters():
            parameter.copy_(0.2 * torch.randn(parameter.shape, generator=generator))
    return model.eval()


@pytest.mark.parametrize(("scale", "depth"), [(2, 0), (2, 2), (3, 1), (2, 3)])
@pytest.mark.parametrize("shape", [(1, 1), (13, 21), (32, 32)])
def test_any_input_size_gives_scaled_output(scale, depth, shape):
    model = _randomised(ResidualUNet(scale=scale, base_channels=4, depth=depth))
    with torch.inference_mode():
        output = model(torch.rand(2, 1, *shape))
    assert output.shape == (2, 1, shape[0] * scale, shape[1] * scale)
    assert torch.isfinite(output).all()


def test_output_is_bicubic_upsampling_plus_the_residual_branch():
    model = _randomised(ResidualUNet(scale=2, base_channels=8, depth=2))
    with torch.no_grad():
        model.tail[-1].weight.zero_()
        model.tail[-1].bias.zero_()
    image = torch.rand(1, 1, 20, 24)
    expected = F.interpolate(image, scale_factor=2, mode="bicubic", align_corners=False)
    with torch.inference_mode():
        assert torch.allclose(model(image), expected, atol=1e-6)


@pytest.mark.parametrize("depth", [1, 2])
def test_receptive_field_bounds_the_dependence_of_an_output_pixel(depth):
    model = _randomised(ResidualUNet(scale=2, base_channels=4, depth=depth))
    size_px = 4 * model.receptive_field_px
    centre_px = size_px // 2
    image = torch.rand(1, 1, size_px, size_px, requires_grad=True)
    model(image)[0, 0, 2 * centre_px, 2 * centre_px].backward()
    rows, cols = torch.nonzero(image.grad[0, 0].abs() > 0, as_tuple=True)
    extent_px = max(int((rows - centre_px).abs().max()), int((cols - centre_px).abs().max()))
    half_rf_px = model.receptive_field_px / 2
    assert extent_px <= half_rf_px
    assert extent_px >= 0.75 * half_rf_px  # the formula is not a loose overestimate


def test_constructor_args_rebuild_the_architecture():
    model = ResidualUNet(scale=3, base_channels=6, depth=1)
    clone = ResidualUNet(**model.constructor_args())
    clone.load_state_dict(model.state_dict())
    assert clone.receptive_field_px == model.receptive_field_px


def test_pick_device_names_the_config_key():
    assert pick_device("cpu", "restoration.device") == torch.device("cpu")
    expected = "cuda" if torch.cuda.is_available() else "cpu"
    assert pick_device("auto", "restoration.device").type == expected
    with pytest.raises(InputError, match="restoration.device must be"):
        pick_device("gpu", "restoration.device")
    if not torch.cuda.is_available():
        with pytest.raises(InputError, match="training.device is 'cuda' but no CUDA GPU"):
            pick_device("cuda", "training.device")
