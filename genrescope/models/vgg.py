"""VGG with batch norm, in plain torch, with torchvision's state_dict keys.

``vgg19_bn(num_classes=16)`` builds the network the ccmusic-database
``music_genre`` checkpoints were saved from: torchvision's ``features`` and
``avgpool``, and the ccmusic head in place of ``classifier``.
"""

from __future__ import annotations

import logging

import numpy as np
import torch
from torch import nn

from ..errors import GenrescopeError
from ..features import Features, ImageSpec, image_features
from .base import Model
from .config import BundleConfig

log = logging.getLogger(__name__)

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

    def __init__(self, config: BundleConfig | dict):
        super().__init__(config)
        self.spec = ImageSpec.from_dict(self.config.representation or {})
        # channels-last: oneDNN's faster convolution layout on CPU (same results)
        self.net = VGG(self.config.architecture, num_classes=len(self.labels),
                       head_widths=self.config.head_widths).to(
            memory_format=torch.channels_last)
        self.int8: nn.Module | None = None
        self.int8_check = None                   # Agreement, once checked

    @property
    def precisions(self) -> tuple:
        from .quantize import int8_supported

        return ("fp32", "int8") if int8_supported() else ("fp32",)

    def default_precision(self, device: str) -> str:
        """int8 on the CPU where this checkpoint passed the int8 check, else fp32.

        Only a check made before (cached) counts: loading never runs it, so a
        first load takes seconds. Until :meth:`check_int8` has run for this
        checkpoint file (``genrescope models --check-int8 NAME``) it is fp32,
        with a log line saying so. The verdict is kept in :attr:`int8_check`.
        """
        from .quantize import cached_verdict

        if device != "cpu" or "int8" not in self.precisions or self.weights_path is None:
            return "fp32"
        self.int8_check = cached_verdict(self.weights_path)
        if self.int8_check is None:
            log.warning("%s: float32 for now; int8 (faster) is used once it has been checked "
                        "against float32 for this checkpoint: `genrescope models --check-int8 "
                        "%s` (about a minute, once)", self.name, self.name)
            return "fp32"
        return "int8" if self.int8_check.passed else "fp32"

    def check_int8(self):
        """Check int8 against float32 for this checkpoint (or read the verdict
        made before); the verdict is cached, so later "auto" loads follow it.

        Returns
        -------
        genrescope.models.quantize.Agreement
        """
        from .quantize import int8_verdict

        if "int8" not in self.precisions or self.weights_path is None:
            raise GenrescopeError(f"{self.name} has no int8 variant here.")
        self.int8_check = int8_verdict(self.weights_path, self._check_int8)
        return self.int8_check

    def _check_int8(self):
        from .quantize import MIN_AGREEMENT, agreement, check_audio, save_int8

        log.warning("%s: checking int8 against float32 on synthesised clips "
                    "(once for this checkpoint, about 20 s)", self.name)
        self.int8 = self._int8_network(keep=False)
        inputs = torch.cat([self.features(y).inputs[:1] for y in check_audio(self.sr)])
        result = agreement(lambda x: self.net(x.contiguous(memory_format=torch.channels_last)),
                           self.int8, inputs, stop_below=MIN_AGREEMENT)
        log.warning("%s: int8 agreed with float32 on %d of %d clips checked (max probability "
                    "difference %.3f): %s", self.name, result.agreed, result.n,
                    result.max_probability_diff, "int8 by default" if result.passed else "float32")
        if result.passed:
            save_int8(self.int8, self.weights_path)
        return result

    def set_precision(self, precision: str) -> None:
        """``"int8"``: an int8 copy of the network (CPU only), calibrated now or
        read from the cache if this checkpoint file was calibrated before."""
        super().set_precision(precision)
        if precision != "int8":
            self.int8 = None
        elif self.int8 is None:
            if next(self.net.parameters()).device.type != "cpu":
                raise GenrescopeError("int8 inference runs on the CPU only.")
            self.int8 = self._int8_network(keep=True)

    def _int8_network(self, keep: bool) -> nn.Module:
        """Cached int8 network of this checkpoint, else calibrate one (and
        cache it if ``keep``)."""
        from .quantize import calibration_audio, load_int8, quantize_vgg, save_int8

        if self.weights_path is not None:
            cached = load_int8(self.net, self.weights_path)
            if cached is not None:
                return cached
        batch = torch.cat([self.features(y).inputs for y in calibration_audio(self.sr)])
        int8 = quantize_vgg(self.net, batch)
        if keep and self.weights_path is not None:
            save_int8(int8, self.weights_path)
        return int8

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
