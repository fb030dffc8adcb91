"""EfficientAT's MobileNetV3 audio taggers (AudioSet, 527 classes) in plain PyTorch.

Written from the published description (F. Schmid, K. Koutini, G. Widmer,
"Efficient Large-Scale Audio Tagging via Transformer-to-CNN Knowledge
Distillation", ICASSP 2023) and the key names and shapes of the released
``mn04_as_mAP_432.pt`` state_dict (MIT licence, (c) 2022 Florian Schmid);
``tools/convert_efficientat.py`` checks it against the original's outputs.

Network (``width_mult`` 0.4 = ``mn04``), input ``(batch, 1, 128 mel bands,
frames)``, all convolutions without bias, batch norms with epsilon 1e-3:

* ``features.0``: conv 3x3 stride 2, 1 -> 8 channels, BN, hard-swish;
* ``features.1`` - ``features.15``: MobileNetV3-Large's 15 inverted
  residual blocks (:data:`BLOCKS`, channels scaled by ``width_mult`` and
  rounded to multiples of 8): [1x1 expansion conv, BN, act] (absent when the
  expansion keeps the width), depthwise k x k conv (stride 1 or 2), BN, act,
  [squeeze-and-excitation], 1x1 projection conv, BN; a residual sum when
  stride 1 and the width is kept. act is ReLU in blocks 1-6, hard-swish
  after. The SE takes the mean over frequency and time, Linear -> ReLU ->
  Linear -> sigmoid (not MobileNetV3's hard-sigmoid: the port check
  tells them apart), squeeze width ``expanded / 4`` rounded to 8;
* ``features.16``: conv 1x1 to 384 channels, BN, hard-swish;
* global mean over frequency and time: the 384-d embedding;
* ``classifier``: Linear 384 -> 512, hard-swish, dropout, Linear 512 -> 527
  (logits; sigmoid gives each AudioSet class's own probability).

The front end is :mod:`genrescope.efficientat_mel`.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import torch
import torch.nn.functional as F
from torch import nn

from ..efficientat_mel import MelSpec, chunk_features
from ..features import Features
from .base import Model
from .config import BundleConfig

__all__ = ["BLOCKS", "EfficientAT", "EfficientATModel", "make_divisible"]


@dataclass(frozen=True)
class BlockPlan:
    """One inverted-residual block of MobileNetV3-Large at width 1.0."""

    in_channels: int
    kernel_size: int
    expanded_channels: int
    out_channels: int
    use_se: bool
    hard_swish: bool
    stride: int


#: MobileNetV3-Large's blocks (Howard et al. 2019, table 1), width 1.0.
BLOCKS: tuple[BlockPlan, ...] = tuple(BlockPlan(*row) for row in (
    (16, 3, 16, 16, False, False, 1),
    (16, 3, 64, 24, False, False, 2),
    (24, 3, 72, 24, False, False, 1),
    (24, 5, 72, 40, True, False, 2),
    (40, 5, 120, 40, True, False, 1),
    (40, 5, 120, 40, True, False, 1),
    (40, 3, 240, 80, False, True, 2),
    (80, 3, 200, 80, False, True, 1),
    (80, 3, 184, 80, False, True, 1),
    (80, 3, 184, 80, False, True, 1),
    (80, 3, 480, 112, True, True, 1),
    (112, 3, 672, 112, True, True, 1),
    (112, 5, 672, 160, True, True, 2),
    (160, 5, 960, 160, True, True, 1),
    (160, 5, 960, 160, True, True, 1),
))
STEM_CHANNELS = 16
LAST_CHANNELS = 1280           # hidden width of the classifier at width 1.0
BN_EPS = 1e-3


def make_divisible(value: float, divisor: int = 8) -> int:
    """Round ``value`` to a multiple of ``divisor``, never below 90 % of it
    (MobileNet's channel rounding)."""
    rounded = max(divisor, int(value + divisor / 2) // divisor * divisor)
    return rounded + divisor if rounded < 0.9 * value else rounded


def _conv_bn(in_channels: int, out_channels: int, kernel_size: int, stride: int = 1,
             groups: int = 1, activation: type[nn.Module] | None = None) -> nn.Sequential:
    """conv (no bias, 'same' padding) -> BN [-> activation]; keys ``0`` and ``1``."""
    layers = [nn.Conv2d(in_channels, out_channels, kernel_size, stride,
                        (kernel_size - 1) // 2, groups=groups, bias=False),
              nn.BatchNorm2d(out_channels, eps=BN_EPS)]
    if activation is not None:
        layers.append(activation())
    return nn.Sequential(*layers)


class _SqueezeExcitation(nn.Module):
    """Channel attention: mean over (frequency, time) -> fc1 -> ReLU -> fc2 ->
    sigmoid -> scale the channels."""

    def __init__(self, channels: int, squeeze_channels: int) -> None:
        super().__init__()
        self.fc1 = nn.Linear(channels, squeeze_channels)
        self.fc2 = nn.Linear(squeeze_channels, channels)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        scale = torch.sigmoid(self.fc2(F.relu(self.fc1(x.mean(dim=(2, 3))))))
        return x * scale[:, :, None, None]


class _ConcurrentSE(nn.Module):
    """The SE holder whose key names the weights carry
    (``conc_se_layers.0``); one channel SE in the released models."""

    def __init__(self, channels: int, squeeze_channels: int) -> None:
        super().__init__()
        self.conc_se_layers = nn.ModuleList([_SqueezeExcitation(channels, squeeze_channels)])

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.conc_se_layers[0](x)


class _InvertedResidual(nn.Module):
    """One MobileNetV3 block, ``block`` an ``nn.Sequential`` as in the weights."""

    def __init__(self, plan: BlockPlan, width_mult: float) -> None:
        super().__init__()
        c_in = make_divisible(plan.in_channels * width_mult)
        c_exp = make_divisible(plan.expanded_channels * width_mult)
        c_out = make_divisible(plan.out_channels * width_mult)
        act = nn.Hardswish if plan.hard_swish else nn.ReLU
        layers = []
        if c_exp != c_in:
            layers.append(_conv_bn(c_in, c_exp, 1, activation=act))
        layers.append(_conv_bn(c_exp, c_exp, plan.kernel_size, plan.stride, groups=c_exp,
                               activation=act))
        if plan.use_se:
            layers.append(_ConcurrentSE(c_exp, make_divisible(c_exp // 4)))
        layers.append(_conv_bn(c_exp, c_out, 1))
        self.block = nn.Sequential(*layers)
        self.use_residual = plan.stride == 1 and c_in == c_out

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        out = self.block(x)
        return out + x if self.use_residual else out


class EfficientAT(nn.Module):
    """EfficientAT MobileNet: log-mel ``(B, 1, n_mels, frames)`` -> (logits, embedding).

    Parameters
    ----------
    width_mult : float
        Channel multiplier (0.4 for ``mn04``).
    n_classes : int
        Outputs (527 AudioSet classes).
    dropout : float
        Dropout before the last linear layer (inactive in eval mode).
    """

    def __init__(self, width_mult: float = 0.4, n_classes: int = 527,
                 dropout: float = 0.2) -> None:
        super().__init__()
        stem = make_divisible(STEM_CHANNELS * width_mult)
        last_conv = 6 * make_divisible(BLOCKS[-1].out_channels * width_mult)
        hidden = make_divisible(LAST_CHANNELS * width_mult)
        layers: list[nn.Module] = [_conv_bn(1, stem, 3, stride=2, activation=nn.Hardswish)]
        layers += [_InvertedResidual(plan, width_mult) for plan in BLOCKS]
        layers.append(_conv_bn(make_divisible(BLOCKS[-1].out_channels * width_mult), last_conv,
                               1, activation=nn.Hardswish))
        self.features = nn.Sequential(*layers)
        self.classifier = nn.Sequential(
            nn.AdaptiveAvgPool2d(1), nn.Flatten(), nn.Linear(last_conv, hidden), nn.Hardswish(),
            nn.Dropout(dropout), nn.Linear(hidden, n_classes))
        self.embedding_dim = last_conv
        self.n_classes = n_classes

    def forward(self, mel: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
        """Tag a batch of log-mel inputs.

        Returns
        -------
        logits : torch.Tensor
            ``(batch, n_classes)``; ``torch.sigmoid`` gives the probabilities.
        embedding : torch.Tensor
            ``(batch, embedding_dim)``: the last feature map's mean over
            frequency and time (what enters the classifier).
        """
        if mel.ndim != 4 or mel.shape[1] != 1:
            raise ValueError(f"expected (batch, 1, n_mels, frames), got {tuple(mel.shape)}")
        x = self.features(mel)
        embedding = x.mean(dim=(2, 3))
        return self.classifier[2:](embedding), embedding


class EfficientATModel(Model):
    """An EfficientAT AudioSet tagger: 527 classes, sigmoid scores (shown as they are).

    Inputs are :func:`~genrescope.efficientat_mel.chunk_features` chunks,
    ``(N, frames, n_mels)`` time-major (as every patch model's, so that
    :mod:`genrescope.explain` can occlude them); the network sees them
    transposed to ``(N, 1, n_mels, frames)``.
    """

    def __init__(self, config: BundleConfig | dict):
        super().__init__(config)
        self.rep = MelSpec.from_dict(self.config.representation or {})
        self.net = EfficientAT(**(self.config.network or {}))

    @property
    def sr(self) -> int:
        return self.rep.sr

    def features(self, y: np.ndarray) -> Features:
        return chunk_features(y, self.rep)

    def _run(self, inputs: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
        return self.net(inputs.transpose(1, 2).unsqueeze(1))

    def forward(self, inputs: torch.Tensor) -> torch.Tensor:
        return self._run(inputs)[0]

    def embed(self, inputs: torch.Tensor) -> torch.Tensor:
        return self._run(inputs)[1]

    def scores_and_embed(self, inputs: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
        logits, embedding = self._run(inputs)                # one pass for both
        return self.activate(logits), embedding

    def weights(self) -> nn.Module:
        return self.net


FAMILIES = {"efficientat": EfficientATModel}
