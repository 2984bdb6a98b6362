"""Hand-written PyTorch models for ``archcalc import tests/import_models.py:FACTORY`` tests.

Written as ordinary torch code, the ways papers' repositories write them (containers, residual blocks, gates,
branches, a U-Net, functionals and tensor methods), independently of archcalc: the tests import each, then
hold the spec's parameters and MACs against the module itself and fvcore, and the spec's function against
the module (``verify --against``).
"""

from __future__ import annotations

import torch
import torch.nn.functional as F
from torch import Tensor, nn

# ---- a Sequential CNN ------------------------------------------------------------------------------------------

def sequential_cnn(num_classes: int = 10) -> nn.Module:
    """A VGG-style network in one ``nn.Sequential``: keys ``0.weight``, ``1.running_mean`` …"""
    return nn.Sequential(
        nn.Conv2d(3, 16, 3, padding=1), nn.BatchNorm2d(16), nn.ReLU(inplace=True),
        nn.Conv2d(16, 16, 3, padding=1, bias=False), nn.BatchNorm2d(16), nn.ReLU(inplace=True),
        nn.MaxPool2d(2),
        nn.Conv2d(16, 32, 3, padding=1), nn.LeakyReLU(0.1), nn.AvgPool2d(2),
        nn.Conv2d(32, 32, (3, 1), stride=(2, 1), padding=(1, 0), groups=4), nn.ELU(),
        nn.AdaptiveAvgPool2d((2, 2)), nn.Flatten(), nn.Dropout(0.3), nn.Linear(128, 64), nn.Hardswish(),
        nn.Linear(64, num_classes), nn.LogSoftmax(dim=1))


# ---- residual blocks with projection shortcuts -----------------------------------------------------------------

class Bottleneck(nn.Module):
    """torchvision's bottleneck: 1×1, 3×3 (with the stride), 1×1 ×4; a projection where the shape changes."""

    expansion = 4

    def __init__(self, cin: int, width: int, stride: int = 1):
        super().__init__()
        out = width * self.expansion
        self.conv1 = nn.Conv2d(cin, width, 1, bias=False)
        self.bn1 = nn.BatchNorm2d(width)
        self.conv2 = nn.Conv2d(width, width, 3, stride, 1, bias=False)
        self.bn2 = nn.BatchNorm2d(width)
        self.conv3 = nn.Conv2d(width, out, 1, bias=False)
        self.bn3 = nn.BatchNorm2d(out)
        self.relu = nn.ReLU(inplace=True)
        self.downsample = (nn.Sequential(nn.Conv2d(cin, out, 1, stride, bias=False), nn.BatchNorm2d(out))
                           if stride != 1 or cin != out else None)

    def forward(self, x: Tensor) -> Tensor:
        identity = x
        out = self.relu(self.bn1(self.conv1(x)))
        out = self.relu(self.bn2(self.conv2(out)))
        out = self.bn3(self.conv3(out))
        if self.downsample is not None:
            identity = self.downsample(x)
        out += identity
        return self.relu(out)


class TinyResNet(nn.Module):
    def __init__(self, num_classes: int = 10):
        super().__init__()
        self.conv1 = nn.Conv2d(3, 16, 3, padding=1, bias=False)
        self.bn1 = nn.BatchNorm2d(16)
        self.relu = nn.ReLU(inplace=True)
        self.layer1 = nn.Sequential(Bottleneck(16, 8), Bottleneck(32, 8), Bottleneck(32, 8))
        self.layer2 = nn.Sequential(Bottleneck(32, 16, 2), Bottleneck(64, 16), Bottleneck(64, 16))
        self.avgpool = nn.AdaptiveAvgPool2d((1, 1))
        self.fc = nn.Linear(64, num_classes)

    def forward(self, x: Tensor) -> Tensor:
        x = self.relu(self.bn1(self.conv1(x)))
        x = self.layer2(self.layer1(x))
        return self.fc(torch.flatten(self.avgpool(x), 1))


def residual(num_classes: int = 10) -> nn.Module:
    return TinyResNet(num_classes)


# ---- squeeze-excitation ----------------------------------------------------------------------------------------

class SELayer(nn.Module):
    """Hu et al.'s code: global pool, view to a vector, Linear → ReLU → Linear → sigmoid, view back, expand."""

    def __init__(self, channels: int, reduction: int = 4):
        super().__init__()
        self.avg_pool = nn.AdaptiveAvgPool2d(1)
        self.fc = nn.Sequential(nn.Linear(channels, channels // reduction, bias=False), nn.ReLU(inplace=True),
                                nn.Linear(channels // reduction, channels, bias=False), nn.Sigmoid())

    def forward(self, x: Tensor) -> Tensor:
        b, c, _, _ = x.size()
        y = self.avg_pool(x).view(b, c)
        y = self.fc(y).view(b, c, 1, 1)
        return x * y.expand_as(x)


class ConvSE(nn.Module):
    """torchvision's SqueezeExcitation: 1×1 convolutions on the pooled map, ``scale * input``."""

    def __init__(self, channels: int, squeeze: int):
        super().__init__()
        self.avgpool = nn.AdaptiveAvgPool2d(1)
        self.fc1 = nn.Conv2d(channels, squeeze, 1)
        self.fc2 = nn.Conv2d(squeeze, channels, 1)
        self.activation = nn.SiLU()
        self.scale_activation = nn.Hardsigmoid()

    def forward(self, x: Tensor) -> Tensor:
        scale = self.scale_activation(self.fc2(self.activation(self.fc1(self.avgpool(x)))))
        return scale * x


class SENet(nn.Module):
    def __init__(self, num_classes: int = 10):
        super().__init__()
        self.stem = nn.Sequential(nn.Conv2d(3, 32, 3, 2, 1, bias=False), nn.BatchNorm2d(32), nn.ReLU6(inplace=True))
        self.se1 = SELayer(32)
        self.conv = nn.Conv2d(32, 48, 3, padding=1, groups=16)
        self.se2 = ConvSE(48, 12)
        self.head = nn.Linear(48, num_classes)

    def forward(self, x: Tensor) -> Tensor:
        x = self.se2(self.conv(self.se1(self.stem(x))))
        return self.head(x.mean((2, 3)))


def squeeze_excitation(num_classes: int = 10) -> nn.Module:
    return SENet(num_classes)


# ---- an inception-style concat ---------------------------------------------------------------------------------

class BasicConv2d(nn.Module):
    """torchvision's GoogLeNet unit: conv, batch norm, a functional ReLU."""

    def __init__(self, cin: int, cout: int, **kwargs: int):
        super().__init__()
        self.conv = nn.Conv2d(cin, cout, bias=False, **kwargs)
        self.bn = nn.BatchNorm2d(cout, eps=0.001)

    def forward(self, x: Tensor) -> Tensor:
        return F.relu(self.bn(self.conv(x)), inplace=True)


class Inception(nn.Module):
    def __init__(self, cin: int, c1: int, c3r: int, c3: int, c5r: int, c5: int, pool: int):
        super().__init__()
        self.branch1 = BasicConv2d(cin, c1, kernel_size=1)
        self.branch2 = nn.Sequential(BasicConv2d(cin, c3r, kernel_size=1), BasicConv2d(c3r, c3, kernel_size=3,
                                                                                          padding=1))
        self.branch3 = nn.Sequential(BasicConv2d(cin, c5r, kernel_size=1), BasicConv2d(c5r, c5, kernel_size=3,
                                                                                          padding=1))
        self.branch4 = nn.Sequential(nn.MaxPool2d(3, stride=1, padding=1, ceil_mode=True),
                                     BasicConv2d(cin, pool, kernel_size=1))

    def forward(self, x: Tensor) -> Tensor:
        return torch.cat([self.branch1(x), self.branch2(x), self.branch3(x), self.branch4(x)], 1)


class MiniGoogLeNet(nn.Module):
    def __init__(self, num_classes: int = 10):
        super().__init__()
        self.conv1 = BasicConv2d(3, 16, kernel_size=3, stride=2, padding=1)
        self.inception3a = Inception(16, 8, 8, 16, 4, 8, 8)
        self.inception3b = Inception(40, 16, 16, 24, 8, 12, 12)
        self.maxpool = nn.MaxPool2d(3, 2, ceil_mode=True)
        self.inception4a = Inception(64, 16, 16, 24, 8, 12, 12)
        self.avgpool = nn.AdaptiveAvgPool2d((1, 1))
        self.dropout = nn.Dropout(0.2)
        self.fc = nn.Linear(64, num_classes)

    def forward(self, x: Tensor) -> Tensor:
        x = self.inception3b(self.inception3a(self.conv1(x)))
        x = self.inception4a(self.maxpool(x))
        return self.fc(self.dropout(torch.flatten(self.avgpool(x), 1)))


def inception(num_classes: int = 10) -> nn.Module:
    return MiniGoogLeNet(num_classes)


# ---- a U-Net ------------------------------------------------------------------------------------------------------

class DoubleConv(nn.Module):
    def __init__(self, cin: int, cout: int):
        super().__init__()
        self.block = nn.Sequential(nn.Conv2d(cin, cout, 3, padding=1, bias=False), nn.BatchNorm2d(cout),
                                   nn.ReLU(inplace=True), nn.Conv2d(cout, cout, 3, padding=1, bias=False),
                                   nn.BatchNorm2d(cout), nn.ReLU(inplace=True))

    def forward(self, x: Tensor) -> Tensor:
        return self.block(x)  # type: ignore[no-any-return]


class UNet(nn.Module):
    """Ronneberger et al.'s shape: two poolings down, a transposed convolution and a bilinear
    ``F.interpolate`` up, encoder maps concatenated in."""

    def __init__(self, cin: int = 3, classes: int = 2):
        super().__init__()
        self.enc1 = DoubleConv(cin, 8)
        self.enc2 = DoubleConv(8, 16)
        self.pool = nn.MaxPool2d(2)
        self.bottom = DoubleConv(16, 32)
        self.up2 = nn.ConvTranspose2d(32, 16, 2, stride=2)
        self.dec2 = DoubleConv(32, 16)
        self.reduce = nn.Conv2d(16, 8, 1)
        self.dec1 = DoubleConv(16, 8)
        self.head = nn.Conv2d(8, classes, 1)

    def forward(self, x: Tensor) -> Tensor:
        e1 = self.enc1(x)
        e2 = self.enc2(self.pool(e1))
        b = self.bottom(self.pool(e2))
        d2 = self.dec2(torch.cat([e2, self.up2(b)], dim=1))
        up = F.interpolate(self.reduce(d2), scale_factor=2, mode="bilinear", align_corners=False)
        d1 = self.dec1(torch.cat([e1, up], dim=1))
        return self.head(d1)  # type: ignore[no-any-return]


def unet(cin: int = 3, classes: int = 2) -> nn.Module:
    return UNet(cin, classes)


# ---- functionals and tensor methods -------------------------------------------------------------------------------

class Weights(nn.Module):
    """Parameters only, for a model that calls the functionals itself (as JAX ports and research code do)."""

    def __init__(self, *shape: int, bias: bool = True, norm: bool = False):
        super().__init__()
        self.weight = nn.Parameter(torch.randn(*shape) * 0.1)
        self.bias = nn.Parameter(torch.randn(shape[0]) * 0.1) if bias else None
        if norm:
            self.register_buffer("running_mean", torch.zeros(shape[0]))
            self.register_buffer("running_var", torch.ones(shape[0]))


class Functional(nn.Module):
    """No layer modules at all: F.conv2d on its own parameters, tensor methods, a channel split and shuffle
    written with view/transpose, a layer norm on the permuted map, a layer scale, a gate, interpolation."""

    def __init__(self, num_classes: int = 10):
        super().__init__()
        self.conv1 = Weights(16, 3, 3, 3)
        self.bn1 = Weights(16, norm=True)
        self.branch = Weights(8, 8, 3, 3, bias=False)
        self.norm = Weights(16)
        self.mlp = Weights(32, 16)
        self.proj = Weights(16, 32)
        self.gamma = nn.Parameter(torch.full((16, 1, 1), 0.5))
        self.fc = Weights(num_classes, 16)

    def forward(self, x: Tensor) -> Tensor:
        x = F.conv2d(x, self.conv1.weight, self.conv1.bias, stride=2, padding=1).relu()
        left, right = x.chunk(2, dim=1)
        right = F.conv2d(right, self.branch.weight, None, padding=1).sigmoid()
        x = torch.cat((left, right), dim=1)
        b, c, h, w = x.shape
        x = x.view(b, 2, c // 2, h, w).transpose(1, 2).reshape(b, c, h, w)
        y = x.permute(0, 2, 3, 1)
        y = F.layer_norm(y, (c,), self.norm.weight, self.norm.bias, 1e-6)
        y = F.gelu(F.linear(y, self.mlp.weight, self.mlp.bias))
        y = F.linear(y, self.proj.weight, self.proj.bias).permute(0, 3, 1, 2)
        x = x + self.gamma * y
        x = x * torch.sigmoid(x)
        x = F.batch_norm(x, self.bn1.running_mean, self.bn1.running_var, self.bn1.weight, self.bn1.bias,
                         self.training, 0.1, 1e-5)
        x = F.max_pool2d(x, kernel_size=2)
        x = F.interpolate(x, scale_factor=2.0, mode="nearest")
        x = F.adaptive_avg_pool2d(x, 1).flatten(1)
        x = F.dropout(x, 0.1, self.training)
        return F.log_softmax(F.linear(x, self.fc.weight, self.fc.bias), dim=1)


def functional(num_classes: int = 10) -> nn.Module:
    return Functional(num_classes)


# ---- for the fallback and the errors ------------------------------------------------------------------------------

class ShapeBranch(nn.Module):
    """A branch on the input's size: torch.fx cannot trace it (a proxy is not a bool), torch.export can."""

    def __init__(self) -> None:
        super().__init__()
        self.conv = nn.Conv2d(3, 8, 3, padding=1)
        self.bn = nn.BatchNorm2d(8)
        self.pool = nn.MaxPool2d(2)
        self.fc = nn.Linear(8, 4)

    def forward(self, x: Tensor) -> Tensor:
        x = torch.relu(self.bn(self.conv(x)))
        if x.shape[-1] > 8:
            x = self.pool(x)
        return self.fc(x.mean((2, 3)))


def shape_branch() -> nn.Module:
    return ShapeBranch()


class Attention(nn.Module):
    def __init__(self, channels: int):
        super().__init__()
        self.qkv = nn.Conv2d(channels, 3 * channels, 1)

    def forward(self, x: Tensor) -> Tensor:
        b, c, h, w = x.shape
        q, k, v = self.qkv(x).flatten(2).chunk(3, dim=1)
        attn = torch.matmul(q.transpose(1, 2), k).softmax(dim=-1)
        return torch.matmul(v, attn.transpose(1, 2)).view(b, c, h, w)


class WithAttention(nn.Module):
    """A convolution, an attention block (matmul: outside archcalc's vocabulary), a classifier."""

    def __init__(self) -> None:
        super().__init__()
        self.conv = nn.Conv2d(3, 8, 3, padding=1)
        self.attn = Attention(8)
        self.conv2 = nn.Conv2d(8, 8, 3, padding=1)
        self.fc = nn.Linear(8, 4)

    def forward(self, x: Tensor) -> Tensor:
        x = self.conv2(self.attn(torch.relu(self.conv(x))))
        return self.fc(torch.flatten(F.adaptive_avg_pool2d(x, 1), 1))


def with_attention() -> nn.Module:
    return WithAttention()
