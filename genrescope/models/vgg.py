"""VGG with batch norm, in plain torch, with torchvision's state_dict keys.

``vgg19_bn(num_classes=16)`` builds the network the ccmusic-database
``music_genre`` checkpoints were saved from: torchvision's ``features`` and
``avgpool``, and the ccmusic head in place of ``classifier``.
"""

from __future__ import annotations

import numpy as np
import torch
from torch import nn

from ..errors import GenrescopeError
from ..features import Features, ImageSpec, image_features
from .base import Model

#: Layer plans of torchvision's VGG variants ("M" = 2x2 max-pool).
PLANS = {
    "vgg11_bn": [64, "M", 128, "M", 256, 256, "M", 512, 512, "M", 512, 512, "M"],
    "vgg13_bn": [64, 64, "M", 128, 128, "M", 256, 256, "M", 512, 512, "M", 512, 512, "M"],
    "vgg16_bn": [64, 64, "M", 128, 128, "M", 256, 256, 256, "M", 512, 512, 512, "M",
                 512, 512, 512, "M"],
    "vgg19_bn": [64, 64, "M", 128, 128, "M", 256, 256, 256, 256, "M", 512, 512, 512, 512, "M",
                 512, 512, 512, 512, "M"],
}
FEATURES_OUT = 512 * 7 * 7                       # 25088


def ccmusic_head(in_features: int, num_classes: int, widths=None) -> nn.Sequential:
    """The classifier the ccmusic-database models put on a backbone.

    ``q = (in_features / num_classes) ** 0.25`` and three hidden widths
    ``l1 = int(q * C)``, ``l2 = int(q * l1)``, ``l3 = int(q * l2)``; for
    25088 -> 16 they are 100, 629 and 3958. ``widths`` = (l3, l2, l1) keeps
    the hidden widths of a head fine-tuned to another label count.
    """
    if widths:                                   # (l3, l2, l1) of a fine-tuned head
        l3, l2, l1 = widths
    else:
        q = (in_features / num_classes) ** 0.25
        l1 = int(q * num_classes)
        l2 = int(q * l1)
        l3 = int(q * l2)
    return nn.Sequential(
        nn.Dropout(), nn.Linear(in_features, l3), nn.ReLU(inplace=True),
        nn.Dropout(), nn.Linear(l3, l2), nn.ReLU(inplace=True),
        nn.Dropout(), nn.Linear(l2, l1), nn.ReLU(inplace=True),
        nn.Linear(l1, num_classes),
    )


class VGG(nn.Module):
    """torchvision's VGG layout: ``features``, ``avgpool``, ``classifier``."""

    def __init__(self, arch: str = "vgg19_bn", num_classes: int = 16, head_widths=None):
        super().__init__()
        if arch not in PLANS:
            raise ValueError(f"unknown VGG variant {arch!r}; known: {', '.join(PLANS)}")
        layers: list[nn.Module] = []
        channels = 3
        for item in PLANS[arch]:
            if item == "M":
                layers.append(nn.MaxPool2d(kernel_size=2, stride=2))
            else:
                layers += [nn.Conv2d(channels, item, kernel_size=3, padding=1),
                           nn.BatchNorm2d(item), nn.ReLU(inplace=True)]
                channels = item
        self.features = nn.Sequential(*layers)
        self.avgpool = nn.AdaptiveAvgPool2d((7, 7))
        self.classifier = ccmusic_head(FEATURES_OUT, num_classes, head_widths)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.classifier(self.embed_input(x))

    def embed_input(self, x: torch.Tensor) -> torch.Tensor:
        """Flattened backbone features (N, 25088)."""
        return torch.flatten(self.avgpool(self.features(x)), 1)


class VggImageModel(Model):
    """A VGG on spectrogram images: the ccmusic recipe."""

    def __init__(self, config: dict):
        super().__init__(config)
        self.spec = ImageSpec.from_dict(config.get("representation", {}))
        # channels-last: oneDNN's faster convolution layout on CPU (same results)
        self.net = VGG(config["architecture"], num_classes=len(self.labels),
                       head_widths=config.get("head_widths")).to(
            memory_format=torch.channels_last)
        self.int8: nn.Module | None = None

    @property
    def precisions(self) -> tuple:
        from .quantize import int8_supported

        return ("fp32", "int8") if int8_supported() else ("fp32",)

    def set_precision(self, precision: str) -> None:
        """``"int8"``: quantize a copy of the network, calibrated now (CPU only).

        Opt-in: ~3.9x faster forward, but top-1 agreement with float32 was
        below 99 % on real music (benchmarks/bench_int8.py), so "auto" keeps
        float32.
        """
        super().set_precision(precision)
        self.int8 = None
        if precision == "int8":
            from .quantize import calibration_audio, quantize_vgg

            if next(self.net.parameters()).device.type != "cpu":
                raise GenrescopeError("int8 inference runs on the CPU only.")
            batch = torch.cat([self.features(y).inputs for y in calibration_audio(self.sr)])
            self.int8 = quantize_vgg(self.net, batch)

    @property
    def sr(self) -> int:
        return self.spec.sr

    def features(self, y: np.ndarray) -> Features:
        return image_features(y, self.spec)

    def forward(self, inputs: torch.Tensor) -> torch.Tensor:
        if self.int8 is not None and not self.training:
            return self.int8(inputs)
        return self.net(inputs.contiguous(memory_format=torch.channels_last))

    def embed(self, inputs: torch.Tensor) -> torch.Tensor:
        """Activations before the last linear layer (N, l1; 100 for 16 classes)."""
        return self.net.classifier[:-1](self.net.embed_input(inputs))

    def weights(self) -> nn.Module:
        return self.net
