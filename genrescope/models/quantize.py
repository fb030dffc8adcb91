"""int8 inference for the VGG models on x86 CPUs, and the check that decides
whether a checkpoint may use it by default.

Scheme (static post-training quantization, eager mode, ``torch.ao``), each
choice measured by benchmarks/bench_int8.py:

* every conv + batch norm + ReLU fused into one int8 convolution, weights int8
  per output channel (symmetric), activations uint8 per tensor;
* activation ranges from a histogram observer (the range that minimises the
  quantisation error, not the extreme values seen);
* 8-bit activations where the CPU has VNNI (its int8 dot products add up in
  32 bits); 7-bit elsewhere, where 16-bit intermediate sums could saturate;
* the first convolution (3 input channels, 0.4 % of the work) and the last
  linear layer (the logits) stay float.

Calibration: the model's own front end applied to deterministic synthesised
music (:mod:`genrescope.synth`), so no data ships and nothing is downloaded.
Why that holds for a user's checkpoint: the ranges are observed for *that*
checkpoint's weights when it is loaded, and every input any of these
networks sees is the same kind of picture (a spectrogram scaled to its own
min and max, coloured, normalised to [-1, 1]), which synthetic chords, drums,
sweeps and noise span as real music does.

Default: ``precision="auto"`` uses int8 for a checkpoint only if
:func:`int8_verdict` found that its top-1 label agrees with float32 on at
least 99 % of :data:`N_CHECK_CLIPS` synthesised clips other than the
calibration ones. The check runs once per checkpoint file (about 20 s on a
quiet machine, a minute or more on a busy one) when the user asks for it
(``genrescope models --check-int8 NAME``), never inside loading: until a
verdict is in the cache folder, "auto" loads float32 (:func:`cached_verdict`).
"""

from __future__ import annotations

import copy
import hashlib
import json
import pickle
import warnings
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import Callable

import numpy as np
import torch
import torch.ao.quantization as tq
from torch import nn

from ..cache import cache_dir
from ..files import replaced_atomically, write_text_atomically
from ..synth import chord, groove, noise_burst, sweep

ENGINE = "x86"
#: Top-1 agreement with float32 needed before "auto" picks int8.
MIN_AGREEMENT = 0.99
N_CHECK_CLIPS = 48
#: Changes whenever the scheme or the clips change, so old verdicts are not reused.
SCHEME = "int8-v2-hist-float-ends"


def int8_supported() -> bool:
    """Whether this torch build can run int8 convolutions with the x86 engine."""
    return ENGINE in torch.backends.quantized.supported_engines


@contextmanager
def quantized_engine(name: str = ENGINE) -> Iterator[None]:
    """torch's int8 engine set to ``name`` inside the block, restored after it.

    The engine decides how int8 weights are packed (when a network is
    converted or its int8 state loaded); a packed network then runs whatever
    the engine is. So genrescope sets it only around packing, never for the
    whole process.
    """
    previous = torch.backends.quantized.engine
    torch.backends.quantized.engine = name
    try:
        yield
    finally:
        torch.backends.quantized.engine = previous


def vnni() -> bool:
    """Whether int8 dot products accumulate in 32 bits here (AVX-512 VNNI / AVX-VNNI)."""
    probe = getattr(torch.cpu, "_is_vnni_supported", None)
    return bool(probe and probe())


def _clip(kind: int, i: int, duration_s: float, sr: int) -> np.ndarray:
    """Synthesised clip number ``i`` of a family of four kinds of texture."""
    root_hz = 55.0 * 2 ** ((7 * i % 36) / 12)             # A1 .. A4, cycling by fifths
    bpm = 70 + (37 * i) % 110
    if kind == 0:
        return chord(duration_s, sr, root_hz=root_hz, seed=i)
    if kind == 1:
        return groove(duration_s, sr, bpm=bpm, seed=i)
    if kind == 2:
        w = 0.2 + 0.6 * ((i * 0.37) % 1)
        return (w * chord(duration_s, sr, root_hz=root_hz, seed=i)
                + (1 - w) * groove(duration_s, sr, bpm=bpm, seed=i + 1))
    lo = 30.0 * 2 ** (i % 5)
    return (0.5 * sweep(duration_s, sr, f0_hz=lo, f1_hz=sr / 2.5)
            + 0.5 * noise_burst(duration_s, sr, seed=i))


def calibration_audio(sr: int, duration_s: float = 12.0) -> list[np.ndarray]:
    """The synthesised clips the activation ranges are observed on (12)."""
    return [_clip(i % 4, i, duration_s, sr) for i in range(12)]


def check_audio(sr: int, duration_s: float = 11.4) -> list[np.ndarray]:
    """The synthesised clips int8 is checked on, none of them a calibration clip."""
    return [_clip(i % 4, 100 + i, duration_s, sr) for i in range(N_CHECK_CLIPS)]


class _Int8(nn.Module):
    """float first convolution -> int8 body -> float last layer."""

    def __init__(self, net: nn.Module):
        super().__init__()
        self.stem = net.features[:3]                 # fused conv + BN + ReLU, float
        self.quant = tq.QuantStub()
        self.body = net.features[3:]
        self.avgpool = net.avgpool
        self.hidden = net.classifier[:-1]
        self.dequant = tq.DeQuantStub()
        self.last = net.classifier[-1]               # float logits

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        x = self.avgpool(self.body(self.quant(self.stem(x))))
        return self.last(self.dequant(self.hidden(torch.flatten(x, 1))))


def quantize_vgg(net: nn.Module, calibration: torch.Tensor | None) -> nn.Module:
    """An int8 copy of ``net`` (which stays untouched), calibrated on ``calibration``.

    Parameters
    ----------
    net : genrescope.models.vgg.VGG
        A float network in eval mode (``features``, ``avgpool``, ``classifier``).
    calibration : torch.Tensor or None
        Network inputs (N, 3, 224, 224) whose activations set the int8 ranges;
        ``None``: uncalibrated, only good for loading a saved int8 state into.

    Returns
    -------
    nn.Module
        Takes and returns float tensors, like ``net``.
    """
    q = copy.deepcopy(net).eval()
    convs = [i for i, m in enumerate(q.features) if isinstance(m, nn.Conv2d)]
    tq.fuse_modules(q.features, [[str(i), str(i + 1), str(i + 2)] for i in convs], inplace=True)
    linears = [i for i, m in enumerate(q.classifier)
               if isinstance(m, nn.Linear) and i + 1 < len(q.classifier)
               and isinstance(q.classifier[i + 1], nn.ReLU)]
    tq.fuse_modules(q.classifier, [[str(i), str(i + 1)] for i in linears], inplace=True)
    model = _Int8(q)
    model.qconfig = tq.QConfig(
        activation=tq.HistogramObserver.with_args(reduce_range=not vnni()),
        weight=tq.PerChannelMinMaxObserver.with_args(dtype=torch.qint8,
                                                     qscheme=torch.per_channel_symmetric))
    model.stem.qconfig = model.last.qconfig = None
    with warnings.catch_warnings(), quantized_engine():   # torch.ao's notes on its own future
        warnings.simplefilter("ignore")
        tq.prepare(model, inplace=True)
        with torch.inference_mode():
            for batch in ([] if calibration is None else calibration.split(4)):
                model(batch)
        tq.convert(model, inplace=True)
    return model.eval()


@dataclass(frozen=True)
class Agreement:
    """How often a reduced-precision network picks float32's top-1 label.

    Attributes
    ----------
    n : int
        Inputs compared.
    agreed : int
        Inputs with the same top-1 label.
    max_probability_diff : float
        Largest absolute difference of any label's probability.
    """

    n: int
    agreed: int
    max_probability_diff: float

    @property
    def rate(self) -> float:
        return self.agreed / self.n if self.n else 0.0

    @property
    def passed(self) -> bool:
        return self.n > 0 and self.rate >= MIN_AGREEMENT


def agreement(reference: Callable[[torch.Tensor], torch.Tensor],
              candidate: Callable[[torch.Tensor], torch.Tensor],
              inputs: torch.Tensor, batch_size: int = 8,
              stop_below: float | None = None) -> Agreement:
    """Compare the softmax outputs of two networks on ``inputs`` (N, ...).

    ``stop_below``: stop as soon as the agreement over all N can no longer
    reach it (the result then covers the inputs compared so far, whose
    agreement is below ``stop_below`` too).
    """
    agreed, diff, seen = 0, 0.0, 0
    allowed = None if stop_below is None else int((1 - stop_below) * len(inputs) + 1e-9)
    with torch.inference_mode():
        for batch in inputs.split(batch_size):
            p, q = torch.softmax(reference(batch), 1), torch.softmax(candidate(batch), 1)
            agreed += int((p.argmax(1) == q.argmax(1)).sum())
            seen += len(batch)
            diff = max(diff, float((p - q).abs().max()))
            if allowed is not None and seen - agreed > allowed:
                break
    return Agreement(seen, agreed, diff)


def _cache_stem(weights: Path) -> Path:
    """Cache files of a checkpoint file, keyed by its path, size and mtime (and
    what else the int8 network depends on: scheme, torch, VNNI)."""
    st = weights.stat()
    key = (f"{weights.resolve()}|{st.st_size}|{st.st_mtime_ns}|{SCHEME}|{torch.__version__}"
           f"|vnni={vnni()}")
    return cache_dir() / "precision" / hashlib.sha256(key.encode()).hexdigest()[:32]


def save_int8(int8: nn.Module, weights: Path) -> None:
    """Keep the calibrated int8 network of the checkpoint ``weights`` in the cache."""
    try:
        with replaced_atomically(_cache_stem(weights).with_suffix(".int8.pt")) as tmp:
            torch.save(int8.state_dict(), tmp)
    except OSError:
        pass                                         # a read-only cache only costs time


def load_int8(net: nn.Module, weights: Path) -> nn.Module | None:
    """The cached int8 network of ``net`` (loaded from ``weights``), or None."""
    path = _cache_stem(weights).with_suffix(".int8.pt")
    if not path.is_file():
        return None
    try:
        int8 = quantize_vgg(net, None)
        with warnings.catch_warnings():              # quantized tensors use TypedStorage
            warnings.simplefilter("ignore", UserWarning)
            state = torch.load(path, map_location="cpu", weights_only=True)
        with quantized_engine():                     # loading packs the int8 weights
            int8.load_state_dict(state)
    except (OSError, RuntimeError, EOFError, pickle.UnpicklingError):
        return None
    return int8


def cached_verdict(weights: Path) -> Agreement | None:
    """The int8 check of the checkpoint in ``weights`` if it was made before, else None."""
    try:
        path = _cache_stem(weights).with_suffix(".json")
        return Agreement(**json.loads(path.read_text())["agreement"])
    except (OSError, ValueError, KeyError, TypeError):
        return None


def int8_verdict(weights: Path, check: Callable[[], Agreement]) -> Agreement:
    """The int8 check of the checkpoint in ``weights``: from the cache, or run now.

    Parameters
    ----------
    weights : Path
        The checkpoint file; its path, size and modification time key the cache.
    check : callable
        Runs the check (quantize, compare with float32 on :func:`check_audio`).
    """
    found = cached_verdict(weights)
    if found is not None:
        return found
    path = _cache_stem(weights).with_suffix(".json")
    result = check()
    text = json.dumps({"weights": str(weights), "scheme": SCHEME, "agreement": asdict(result)},
                      indent=1)
    try:
        write_text_atomically(path, text)
    except OSError:
        pass                                         # a read-only cache only costs time
    return result
