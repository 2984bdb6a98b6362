"""Hand-written reference networks for ``verify --against tests/parity_models.py:FACTORY`` tests.

Written as ordinary torch code, the way a paper's repository or torchvision writes them, independently of
archcalc: the specs in ``test_parity.py`` claim to be these networks.
"""

from __future__ import annotations

import torch
from torch import Tensor, nn


class TinyNet(nn.Module):
    """conv-bn-relu, max pool, strided conv-relu, global pool, dropout, fc; named as its spec names them."""

    def __init__(self, num_classes: int = 10, p: float = 0.5):
        super().__init__()
        self.conv1 = nn.Conv2d(3, 8, 3, padding=1, bias=False)
        self.bn1 = nn.BatchNorm2d(8)
        self.relu1 = nn.ReLU(inplace=True)
        self.pool1 = nn.MaxPool2d(2)
        self.conv2 = nn.Conv2d(8, 16, 3, stride=2, padding=1)
        self.relu2 = nn.ReLU(inplace=True)
        self.gap = nn.AdaptiveAvgPool2d(1)
        self.drop = nn.Dropout(p)
        self.fc = nn.Linear(16, num_classes)

    def forward(self, x: Tensor) -> Tensor:
        x = self.pool1(self.relu1(self.bn1(self.conv1(x))))
        x = self.relu2(self.conv2(x))
        x = torch.flatten(self.gap(x), 1)
        return self.fc(self.drop(x))


def tiny(num_classes: int = 10, p: float = 0.5) -> nn.Module:
    return TinyNet(num_classes, p)


class SeqNet(nn.Module):
    """TinyNet's layers in ``nn.Sequential`` containers: keys ``features.0.weight``, ``classifier.1.weight``."""

    def __init__(self, num_classes: int = 10):
        super().__init__()
        self.features = nn.Sequential(
            nn.Conv2d(3, 8, 3, padding=1, bias=False), nn.BatchNorm2d(8), nn.ReLU(inplace=True), nn.MaxPool2d(2),
            nn.Conv2d(8, 16, 3, stride=2, padding=1), nn.ReLU(inplace=True))
        self.avgpool = nn.AdaptiveAvgPool2d(1)
        self.classifier = nn.Sequential(nn.Dropout(0.5), nn.Linear(16, num_classes))

    def forward(self, x: Tensor) -> Tensor:
        return self.classifier(torch.flatten(self.avgpool(self.features(x)), 1))


def seqnet(num_classes: int = 10) -> nn.Module:
    return SeqNet(num_classes)


class BasicBlock(nn.Module):
    """A ResNet basic block as torchvision writes it: one ReLU module used twice, ``out += identity``."""

    def __init__(self, cin: int, cout: int, stride: int = 1):
        super().__init__()
        self.conv1 = nn.Conv2d(cin, cout, 3, stride, 1, bias=False)
        self.bn1 = nn.BatchNorm2d(cout)
        self.relu = nn.ReLU(inplace=True)
        self.conv2 = nn.Conv2d(cout, cout, 3, 1, 1, bias=False)
        self.bn2 = nn.BatchNorm2d(cout)
        self.downsample: nn.Module | None = None
        if stride != 1 or cin != cout:
            self.downsample = nn.Sequential(nn.Conv2d(cin, cout, 1, stride, bias=False), nn.BatchNorm2d(cout))

    def forward(self, x: Tensor) -> Tensor:
        identity = x if self.downsample is None else self.downsample(x)
        out = self.relu(self.bn1(self.conv1(x)))
        out = self.bn2(self.conv2(out))
        out += identity
        return self.relu(out)  # type: ignore[no-any-return]


class TinyResNet(nn.Module):
    """A two-stage ResNet with torchvision's names (``layer1.0.conv1``, ``layer2.0.downsample.0``)."""

    def __init__(self, num_classes: int = 10):
        super().__init__()
        self.conv1 = nn.Conv2d(3, 8, 3, 1, 1, bias=False)
        self.bn1 = nn.BatchNorm2d(8)
        self.relu = nn.ReLU(inplace=True)
        self.layer1 = nn.Sequential(BasicBlock(8, 8), BasicBlock(8, 8))
        self.layer2 = nn.Sequential(BasicBlock(8, 16, 2), BasicBlock(16, 16))
        self.avgpool = nn.AdaptiveAvgPool2d(1)
        self.fc = nn.Linear(16, num_classes)

    def forward(self, x: Tensor) -> Tensor:
        x = self.relu(self.bn1(self.conv1(x)))
        x = self.layer2(self.layer1(x))
        return self.fc(torch.flatten(self.avgpool(x), 1))  # type: ignore[no-any-return]


def tiny_resnet(num_classes: int = 10) -> nn.Module:
    return TinyResNet(num_classes)


def not_a_module() -> object:
    return object()


class FailsInTraining(TinyNet):
    """TinyNet whose forward raises in training mode, as a reference with a bug would."""

    def forward(self, x: Tensor) -> Tensor:
        if self.training:
            raise RuntimeError("boom: this reference cannot train")
        return super().forward(x)


def fails_in_training() -> nn.Module:
    return FailsInTraining()
