"""Hand-written torch equivalents of zoo networks: the baseline of ``archcalc bench --vs plain``.

Written the way a user would write them (``nn.Sequential`` features and classifier, torchvision-style
residual blocks), with no archcalc code in the forward path, so the bench can show that a model built
from a spec costs nothing extra. Each matches its zoo spec's default architecture exactly; a test holds
their parameter counts against ``analyze(load(name)).totals.params``.
"""

from __future__ import annotations

from collections.abc import Callable

import torch
from torch import nn


def lenet5(num_classes: int = 10) -> nn.Module:
    """LeNet-5 as taught (specs/lenet5.yaml): CONV-POOL-CONV-POOL-CONV-FC-FC on 1×32×32."""
    return nn.Sequential(
        nn.Conv2d(1, 6, 5), nn.ReLU(inplace=True), nn.MaxPool2d(2, 2),
        nn.Conv2d(6, 16, 5), nn.ReLU(inplace=True), nn.MaxPool2d(2, 2),
        nn.Conv2d(16, 120, 5), nn.ReLU(inplace=True),
        nn.Flatten(),
        nn.Linear(120, 84), nn.ReLU(inplace=True),
        nn.Linear(84, num_classes),
    )


class AlexNet(nn.Module):
    """AlexNet as in the paper (specs/alexnet.yaml): grouped conv2/4/5, LRN before pooling, 227×227."""

    def __init__(self, num_classes: int = 1000, groups: int = 2, dropout: float = 0.5):
        super().__init__()

        def lrn() -> nn.Module:
            return nn.LocalResponseNorm(5, alpha=1e-4, beta=0.75, k=2.0)

        self.features = nn.Sequential(
            nn.Conv2d(3, 96, 11, stride=4), nn.ReLU(inplace=True), lrn(), nn.MaxPool2d(3, 2),
            nn.Conv2d(96, 256, 5, padding=2, groups=groups), nn.ReLU(inplace=True), lrn(), nn.MaxPool2d(3, 2),
            nn.Conv2d(256, 384, 3, padding=1), nn.ReLU(inplace=True),
            nn.Conv2d(384, 384, 3, padding=1, groups=groups), nn.ReLU(inplace=True),
            nn.Conv2d(384, 256, 3, padding=1, groups=groups), nn.ReLU(inplace=True),
            nn.MaxPool2d(3, 2),
        )
        self.classifier = nn.Sequential(
            nn.Dropout(dropout), nn.Linear(256 * 6 * 6, 4096), nn.ReLU(inplace=True),
            nn.Dropout(dropout), nn.Linear(4096, 4096), nn.ReLU(inplace=True),
            nn.Linear(4096, num_classes),
        )

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.classifier(torch.flatten(self.features(x), 1))  # type: ignore[no-any-return]


class VGG16(nn.Module):
    """VGG16, configuration D (specs/vgg16.yaml): 13 3×3 convs in five stages, three FC layers."""

    def __init__(self, num_classes: int = 1000, dropout: float = 0.5, image_size: int = 224):
        super().__init__()
        layers: list[nn.Module] = []
        cin = 3
        for width, n in ((64, 2), (128, 2), (256, 3), (512, 3), (512, 3)):
            for _ in range(n):
                layers += [nn.Conv2d(cin, width, 3, padding=1), nn.ReLU(inplace=True)]
                cin = width
            layers.append(nn.MaxPool2d(2, 2))
        self.features = nn.Sequential(*layers)
        self.classifier = nn.Sequential(
            nn.Linear(512 * (image_size // 32) ** 2, 4096), nn.ReLU(inplace=True), nn.Dropout(dropout),
            nn.Linear(4096, 4096), nn.ReLU(inplace=True), nn.Dropout(dropout),
            nn.Linear(4096, num_classes),
        )

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.classifier(torch.flatten(self.features(x), 1))  # type: ignore[no-any-return]


class BasicBlock(nn.Module):
    """ResNet-18/34 block: two 3×3 convs with BN, identity or 1×1 projection shortcut."""

    expansion = 1

    def __init__(self, cin: int, width: int, stride: int = 1):
        super().__init__()
        self.conv1 = nn.Conv2d(cin, width, 3, stride, 1, bias=False)
        self.bn1 = nn.BatchNorm2d(width)
        self.relu = nn.ReLU(inplace=True)
        self.conv2 = nn.Conv2d(width, width, 3, 1, 1, bias=False)
        self.bn2 = nn.BatchNorm2d(width)
        self.downsample: nn.Module | None = None
        if stride != 1 or cin != width:
            self.downsample = nn.Sequential(nn.Conv2d(cin, width, 1, stride, bias=False),
                                            nn.BatchNorm2d(width))

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        identity = x if self.downsample is None else self.downsample(x)
        out = self.relu(self.bn1(self.conv1(x)))
        out = self.bn2(self.conv2(out))
        return self.relu(out + identity)  # type: ignore[no-any-return]


class Bottleneck(nn.Module):
    """ResNet-50 block: 1×1, 3×3, 1×1 (×4 wide); stride on the first 1×1 (paper) or the 3×3 (v1.5)."""

    expansion = 4

    def __init__(self, cin: int, width: int, stride: int = 1, stride_on_3x3: bool = False):
        super().__init__()
        out = width * self.expansion
        s1, s3 = (1, stride) if stride_on_3x3 else (stride, 1)
        self.conv1 = nn.Conv2d(cin, width, 1, s1, bias=False)
        self.bn1 = nn.BatchNorm2d(width)
        self.conv2 = nn.Conv2d(width, width, 3, s3, 1, bias=False)
        self.bn2 = nn.BatchNorm2d(width)
        self.conv3 = nn.Conv2d(width, out, 1, bias=False)
        self.bn3 = nn.BatchNorm2d(out)
        self.relu = nn.ReLU(inplace=True)
        self.downsample: nn.Module | None = None
        if stride != 1 or cin != out:
            self.downsample = nn.Sequential(nn.Conv2d(cin, out, 1, stride, bias=False), nn.BatchNorm2d(out))

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        identity = x if self.downsample is None else self.downsample(x)
        out = self.relu(self.bn1(self.conv1(x)))
        out = self.relu(self.bn2(self.conv2(out)))
        out = self.bn3(self.conv3(out))
        return self.relu(out + identity)  # type: ignore[no-any-return]


class ResNet(nn.Module):
    """He et al. 2016 ImageNet ResNet: 7×7/2 stem, 3×3/2 max pool, four stages, global pool, FC."""

    def __init__(self, block: str, depths: tuple[int, int, int, int], num_classes: int = 1000,
                 stride_on_3x3: bool = False):
        super().__init__()
        self.conv1 = nn.Conv2d(3, 64, 7, 2, 3, bias=False)
        self.bn1 = nn.BatchNorm2d(64)
        self.relu = nn.ReLU(inplace=True)
        self.maxpool = nn.MaxPool2d(3, 2, 1)
        cin = 64
        stages: list[nn.Module] = []
        for i, (width, n) in enumerate(zip((64, 128, 256, 512), depths, strict=True)):
            blocks: list[nn.Module] = []
            for j in range(n):
                stride = 2 if i > 0 and j == 0 else 1
                if block == "basic":
                    blocks.append(BasicBlock(cin, width, stride))
                    cin = width
                else:
                    blocks.append(Bottleneck(cin, width, stride, stride_on_3x3))
                    cin = width * Bottleneck.expansion
            stages.append(nn.Sequential(*blocks))
        self.layer1, self.layer2, self.layer3, self.layer4 = stages
        self.avgpool = nn.AdaptiveAvgPool2d(1)
        self.fc = nn.Linear(cin, num_classes)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        x = self.maxpool(self.relu(self.bn1(self.conv1(x))))
        x = self.layer4(self.layer3(self.layer2(self.layer1(x))))
        return self.fc(torch.flatten(self.avgpool(x), 1))  # type: ignore[no-any-return]


def resnet18(num_classes: int = 1000) -> nn.Module:
    """specs/resnet18.yaml and resnet18_tv.yaml (the same network)."""
    return ResNet("basic", (2, 2, 2, 2), num_classes)


def resnet50(num_classes: int = 1000) -> nn.Module:
    """specs/resnet50.yaml: the paper's stride on the first 1×1 of a downsampling block."""
    return ResNet("bottleneck", (3, 4, 6, 3), num_classes, stride_on_3x3=False)


def resnet50_tv(num_classes: int = 1000) -> nn.Module:
    """specs/resnet50_tv.yaml: torchvision's v1.5, stride on the 3×3."""
    return ResNet("bottleneck", (3, 4, 6, 3), num_classes, stride_on_3x3=True)


#: zoo name → builder taking the number of classes
PLAIN: dict[str, Callable[[int], nn.Module]] = {
    "lenet5": lenet5,
    "alexnet": AlexNet,
    "vgg16": VGG16,
    "resnet18": resnet18,
    "resnet18_tv": resnet18,
    "resnet50": resnet50,
    "resnet50_tv": resnet50_tv,
}


def build_plain(name: str, num_classes: int) -> nn.Module | None:
    """The hand-written equivalent of zoo network ``name``, or None where there is none."""
    builder = PLAIN.get(name)
    return builder(num_classes) if builder is not None else None
