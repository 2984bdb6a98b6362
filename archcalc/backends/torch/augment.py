"""The seeds' augmentation, on whole batches already on the device: no per-image Python work.

AlexNet trains on random crops with horizontal flips and tests on 10 crops (4 corners, centre, and their
mirrors) with the softmax averaged; VGG adds scale jittering: each training image is rescaled so its side
S is drawn from [S_min, S_max] (256..512 for 224 crops) before cropping.
"""

from __future__ import annotations

import torch
import torch.nn.functional as F

#: VGG's scale-jitter range as multiples of the crop side: S in [256, 512] for crops of 224.
JITTER_RANGE = (256 / 224, 512 / 224)


def crop_at(x: torch.Tensor, top: torch.Tensor, left: torch.Tensor, height: int, width: int) -> torch.Tensor:
    """Per-sample crops of (height, width) at (top[i], left[i]): two gathers, no Python loop (faster on
    CPU than one advanced-indexing gather)."""
    n, c, _, w = x.shape
    rows = top.view(n, 1) + torch.arange(height, device=x.device).view(1, height)
    out = x.gather(2, rows.view(n, 1, height, 1).expand(n, c, height, w))
    cols = left.view(n, 1) + torch.arange(width, device=x.device).view(1, width)
    return out.gather(3, cols.view(n, 1, 1, width).expand(n, c, height, width))


def random_crop(x: torch.Tensor, height: int, width: int, pad: int = 0) -> torch.Tensor:
    """Random (height, width) crops, after zero-padding by ``pad`` (zero is the mean once normalised)."""
    if pad:
        x = F.pad(x, (pad, pad, pad, pad))
    h, w = x.shape[-2:]
    if (h, w) == (height, width):
        return x
    n = x.shape[0]
    top = torch.randint(0, h - height + 1, (n,), device=x.device)
    left = torch.randint(0, w - width + 1, (n,), device=x.device)
    return crop_at(x, top, left, height, width)


def random_flip(x: torch.Tensor) -> torch.Tensor:
    """Mirror a random half of the batch left-right."""
    mask = torch.rand(x.shape[0], device=x.device) < 0.5
    return torch.where(mask.view(-1, 1, 1, 1), x.flip(3), x)


def scale_jitter(x: torch.Tensor, height: int, width: int,
                 scale: tuple[float, float] = JITTER_RANGE) -> torch.Tensor:
    """Rescale the batch so its smaller side is S ~ U[scale] × the crop side (one S per batch: one
    interpolate call; over many batches every image sees the whole range)."""
    s = float(torch.empty(()).uniform_(scale[0], scale[1]))
    side = round(s * min(height, width))
    h, w = x.shape[-2:]
    factor = side / min(h, w)
    size = (max(height, round(h * factor)), max(width, round(w * factor)))
    return F.interpolate(x, size=size, mode="bilinear", align_corners=False, antialias=factor < 1)


def center_crop(x: torch.Tensor, height: int, width: int) -> torch.Tensor:
    h, w = x.shape[-2:]
    top, left = (h - height) // 2, (w - width) // 2
    return x[:, :, top: top + height, left: left + width]


def ten_crops(x: torch.Tensor, height: int, width: int) -> list[torch.Tensor]:
    """AlexNet's test-time crops: 4 corners and the centre, and their mirror images. Images at the crop
    size are first enlarged by 256/224, as the paper crops 224 from 256."""
    h, w = x.shape[-2:]
    if h <= height or w <= width:
        x = F.interpolate(x, size=(round(height * 256 / 224), round(width * 256 / 224)), mode="bilinear",
                          align_corners=False)
        h, w = x.shape[-2:]
    crops = [x[:, :, :height, :width], x[:, :, :height, w - width:], x[:, :, h - height:, :width],
             x[:, :, h - height:, w - width:], center_crop(x, height, width)]
    return crops + [c.flip(3) for c in crops]


class Augment:
    """The training transform for one run: (scale jitter) → random crop → (flip)."""

    def __init__(self, height: int, width: int, *, pad: int, flips: bool, jitter: bool):
        self.height, self.width = height, width
        self.pad = pad
        self.flips = flips
        self.jitter = jitter

    def __call__(self, x: torch.Tensor) -> torch.Tensor:
        if self.jitter:
            x = scale_jitter(x, self.height, self.width)
        x = random_crop(x, self.height, self.width, 0 if self.jitter else self.pad)
        if self.flips:
            x = random_flip(x)
        return x
