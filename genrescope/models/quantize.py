"""int8 inference for the VGG models on x86 CPUs (AVX-512 VNNI).

Static post-training quantization in eager mode (``torch.ao.quantization``):
every conv + batch norm + ReLU is fused into one quantized convolution,
weights are int8 per output channel (symmetric), activations uint8 per
tensor with ranges observed (min/max) while the float network runs over
calibration images.

Calibration images come from the model's own front end applied to
deterministic synthesised music (:mod:`genrescope.synth`: chords, a drum
groove, a sweep, noise bursts), so no data ships and nothing is downloaded.
Why that holds for a user's checkpoint: the ranges are observed for *that*
checkpoint's weights when it is loaded (nothing is precomputed for other
weights), and every input the network ever sees is the same kind of picture
(a spectrogram scaled to its own min and max, coloured, normalised to
[-1, 1]), so the synthetic pictures span the input range real music spans.
benchmarks/bench_int8.py measures top-1 agreement with float32 on real music;
it was below the 99 % needed to make int8 the default, so it is opt-in.
"""

from __future__ import annotations

import copy

import numpy as np
import torch
import torch.ao.quantization as tq
from torch import nn

from ..synth import chord, groove, noise_burst, sweep
from .vgg import VGG

ENGINE = "x86"


def int8_supported() -> bool:
    """Whether this torch build can run int8 convolutions with the x86 engine."""
    return ENGINE in torch.backends.quantized.supported_engines


def calibration_audio(sr: int, duration_s: float = 12.0) -> list[np.ndarray]:
    """The synthesised clips the activation ranges are observed on."""
    mix = 0.5 * chord(duration_s, sr, root_hz=110.0) + 0.5 * groove(duration_s, sr, bpm=96)
    return [chord(duration_s, sr), groove(duration_s, sr), mix,
            sweep(duration_s, sr, f0_hz=40.0, f1_hz=sr / 2.5), noise_burst(duration_s, sr)]


class _Int8(nn.Module):
    def __init__(self, net: nn.Module):
        super().__init__()
        self.quant = tq.QuantStub()
        self.net = net
        self.dequant = tq.DeQuantStub()

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.dequant(self.net(self.quant(x)))


def quantize_vgg(net: VGG, calibration: torch.Tensor) -> nn.Module:
    """An int8 copy of ``net`` (which stays untouched), calibrated on ``calibration``.

    Parameters
    ----------
    net : VGG
        A float network in eval mode.
    calibration : torch.Tensor
        Network inputs (N, 3, 224, 224) whose activations set the int8 ranges.

    Returns
    -------
    nn.Module
        Takes and returns float tensors, like ``net``.
    """
    torch.backends.quantized.engine = ENGINE
    q = copy.deepcopy(net).eval()
    convs = [i for i, m in enumerate(q.features) if isinstance(m, nn.Conv2d)]
    tq.fuse_modules(q.features, [[str(i), str(i + 1), str(i + 2)] for i in convs], inplace=True)
    linears = [i for i, m in enumerate(q.classifier)
               if isinstance(m, nn.Linear) and i + 1 < len(q.classifier)
               and isinstance(q.classifier[i + 1], nn.ReLU)]
    tq.fuse_modules(q.classifier, [[str(i), str(i + 1)] for i in linears], inplace=True)
    model = _Int8(q)
    model.qconfig = tq.QConfig(
        # 7-bit activations: no saturation on CPUs whose int8 dot products
        # accumulate in 16 bits (without VNNI)
        activation=tq.MinMaxObserver.with_args(reduce_range=True),
        weight=tq.PerChannelMinMaxObserver.with_args(dtype=torch.qint8,
                                                     qscheme=torch.per_channel_symmetric))
    tq.prepare(model, inplace=True)
    with torch.inference_mode():
        for batch in calibration.split(4):
            model(batch)
    tq.convert(model, inplace=True)
    return model.eval()
