"""A small residual U-Net that restores and upsamples widefield images.

The heavy computation runs at the coarse (widefield) pixel size; the features are
upsampled only at the end (PixelShuffle by ``scale`` and one 3x3 convolution at the
fine pixel size). The network learns a residual on top of the bicubic upsampling of
its input. Its last layer starts with small weights (PyTorch's default / 10), so an
untrained network is close to the bicubic image; zero weights there left the L1
training stuck at the bicubic image (no gradient reaches the other layers).

Size: the pipeline's default is 16 base channels and depth 2: 0.12 M parameters,
about 30 k multiply-adds per input pixel, a receptive field of 52 input pixels (4.7 µm
at 90 nm: a centriole of about 400 nm plus its surroundings). On 2 CPU cores it
restores about 1.3 s per widefield megapixel (the target is <= 2 s) and trains in
minutes on a few hundred 32x32 patches. 32 base channels (0.49 M parameters) reached
the same quality in a 2-minute synthetic test but restore about 3.5 times slower;
depth 3 doubles the receptive field for wider haze.

Geometry: coarse pixel i covers fine pixels [i*scale, (i+1)*scale) (as
:func:`centriole_sr.degrade.block_mean`); both PixelShuffle and bicubic interpolation
with ``align_corners=False`` keep that convention.

This module imports torch only: it is the architecture file of the BioImage Model Zoo package.
"""

from __future__ import annotations

import torch
import torch.nn.functional as F
from torch import nn


def _double_conv(in_channels: int, out_channels: int) -> nn.Sequential:
    """Two 3x3 convolutions, each followed by a ReLU."""
    return nn.Sequential(
        nn.Conv2d(in_channels, out_channels, 3, padding=1),
        nn.ReLU(inplace=True),
        nn.Conv2d(out_channels, out_channels, 3, padding=1),
        nn.ReLU(inplace=True),
    )


class ResidualUNet(nn.Module):
    """U-Net at the widefield pixel size + late PixelShuffle upsampling + bicubic skip.

    scale: integer ratio widefield pixel / confocal pixel (output is ``scale`` times larger).
    base_channels: channels of the first level; level l has ``base_channels * 2**l``.
    depth: number of 2x downsamplings; inputs are padded internally to a multiple of 2**depth.

    ``receptive_field_px`` is the full width (input pixels) of the region that one output
    pixel can depend on; restoration uses it to choose the tile overlap.
    """

    def __init__(self, scale: int = 2, base_channels: int = 32, depth: int = 2) -> None:
        super().__init__()
        if scale < 1 or base_channels < 1 or depth < 0:
            raise ValueError(
                f"need scale >= 1, base_channels >= 1, depth >= 0; "
                f"got {scale}, {base_channels}, {depth}"
            )
        self.scale = int(scale)
        self.base_channels = int(base_channels)
        self.depth = int(depth)
        widths = [base_channels * 2**level for level in range(depth + 1)]
        self.head = nn.Sequential(nn.Conv2d(1, base_channels, 3, padding=1), nn.ReLU(inplace=True))
        self.encoders = nn.ModuleList(
            _double_conv(widths[max(level - 1, 0)], widths[level]) for level in range(depth)
        )
        self.bottleneck = _double_conv(widths[depth - 1] if depth else base_channels, widths[depth])
        self.upsamplers = nn.ModuleList(
            nn.ConvTranspose2d(widths[level + 1], widths[level], 2, stride=2)
            for level in range(depth)
        )
        self.decoders = nn.ModuleList(
            _double_conv(2 * widths[level], widths[level]) for level in range(depth)
        )
        fine_channels = max(base_channels // 2, 1)
        self.tail = nn.Sequential(
            nn.Conv2d(base_channels, fine_channels * scale**2, 3, padding=1),
            nn.PixelShuffle(scale),
            nn.ReLU(inplace=True),
            nn.Conv2d(fine_channels, 1, 3, padding=1),
        )
        with torch.no_grad():  # start near the bicubic image, with gradients everywhere
            self.tail[-1].weight.mul_(0.1)
            self.tail[-1].bias.zero_()
        self.receptive_field_px = self._receptive_field_px()

    def _receptive_field_px(self) -> int:
        """Full width in input pixels of the theoretical receptive field of one output pixel."""
        rf_px, jump_px = 1 + 2, 1  # head 3x3
        for _ in range(self.depth):
            rf_px += 4 * jump_px + jump_px  # two 3x3 convolutions, then 2x2 max pooling
            jump_px *= 2
        rf_px += 4 * jump_px  # bottleneck
        for _ in range(self.depth):
            jump_px //= 2
            rf_px += jump_px + 4 * jump_px  # 2x2 transposed convolution, two 3x3 convolutions
        rf_px += 2 + -(-2 // self.scale)  # coarse 3x3, then fine 3x3 (2 fine px)
        return max(rf_px, 4)  # the bicubic skip reads 4 pixels

    def forward(self, image: torch.Tensor) -> torch.Tensor:
        """Map (n, 1, h, w) widefield images to (n, 1, h*scale, w*scale)."""
        height, width = image.shape[-2:]
        multiple = 2**self.depth
        pad_y, pad_x = -height % multiple, -width % multiple
        padded = F.pad(image, (0, pad_x, 0, pad_y), mode="replicate") if pad_y or pad_x else image
        residual = self.residual(padded)[..., : height * self.scale, : width * self.scale]
        upsampled = F.interpolate(
            image, scale_factor=self.scale, mode="bicubic", align_corners=False
        )
        return upsampled + residual

    def residual(self, padded: torch.Tensor) -> torch.Tensor:
        """The learned residual of (n, 1, h, w) images whose sides are multiples of
        2**depth; it depends on no image size, so it traces for any size."""
        features = self.head(padded)
        skips = []
        for encoder in self.encoders:
            features = encoder(features)
            skips.append(features)
            features = F.max_pool2d(features, 2)
        features = self.bottleneck(features)
        for level in reversed(range(self.depth)):
            features = self.upsamplers[level](features)
            features = self.decoders[level](torch.cat([features, skips[level]], dim=1))
        return self.tail(features)

    def constructor_args(self) -> dict[str, int]:
        """The keyword arguments that rebuild this architecture."""
        return {"scale": self.scale, "base_channels": self.base_channels, "depth": self.depth}
