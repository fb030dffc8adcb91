"""musicnn's VGG baseline taggers (``MSD_vgg``, ``MTT_vgg``) in plain PyTorch.

A faithful port of ``vgg`` from the ``musicnn`` 0.1.0 package
(``musicnn/models.py``, TensorFlow 1 graph, ISC licence, (c) Music
Technology Group, Universitat Pompeu Fabra 2019, code by Jordi Pons).
Weights converted from the package's ``MSD_vgg`` and ``MTT_vgg`` checkpoints
by ``tools/convert_musicnn_vgg.py`` reproduce TensorFlow's tag probabilities
and pool5 embeddings to better than 1e-4.  TensorFlow is *not* needed here.

Network (defaults = the shipped checkpoints, input ``(batch, 187, 96)``,
seen as a one-channel image of frames x mel bands):

* input batch norm (one scalar channel);
* five blocks ``conv 3x3 'same' (128 filters) -> ReLU -> batch norm ->
  max pool 'valid'`` (dropout 0.25 between blocks, inactive at inference),
  pools (frames, bands) of size / stride (4, 1) / (2, 2), then (2, 2) / (2, 2)
  three times, then (4, 4) / (4, 4): 187 x 96 -> 92 x 48 -> 46 x 24 ->
  23 x 12 -> 11 x 6 -> 2 x 1;
* pool5 flattened in TensorFlow's NHWC order (frame, band, channel; 256
  values: the embedding) -> dropout 0.5 -> dense 50 (tag logits; musicnn
  applies a sigmoid).

All batch norms use epsilon 1e-3 (TensorFlow's default).  Remember to call
``.eval()``: the batch norms then use the stored running statistics.

The log-mel input is produced by :func:`genrescope.mel_patches.musicnn_patches`.
"""

from __future__ import annotations

import warnings
from collections.abc import Sequence

import torch
import torch.nn.functional as F
from torch import nn

from .config import BundleConfig
from .musicnn import _PatchModel, reduced_before_bn

__all__ = ["MusicnnVGG", "MusicnnVggModel"]

POOL_SIZES = ((4, 1), (2, 2), (2, 2), (2, 2), (4, 4))
POOL_STRIDES = ((2, 2), (2, 2), (2, 2), (2, 2), (4, 4))


class _VggBlock(nn.Module):
    """``conv 3x3 'same' -> ReLU -> batch norm -> max pool`` on ``(B, C, T, F)``."""

    def __init__(self, in_channels: int, n_filters: int, kernel_size: int,
                 pool_size: Sequence[int], pool_stride: Sequence[int], bn_eps: float) -> None:
        super().__init__()
        if kernel_size % 2 != 1:
            raise ValueError("kernel_size must be odd ('same' padding is symmetric then)")
        self.conv = nn.Conv2d(in_channels, n_filters, kernel_size, padding=kernel_size // 2)
        self.bn = nn.BatchNorm2d(n_filters, eps=bn_eps)
        self.pool = nn.MaxPool2d(tuple(pool_size), tuple(pool_stride))

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        if self.training:
            return self.pool(self.bn(F.relu(self.conv(x))))
        # eval: pool first, then ReLU and batch norm on the pooled map, 4-16x
        # smaller (musicnn.reduced_before_bn); the same numbers
        return reduced_before_bn(self.conv, self.bn, x, self.pool)


class MusicnnVGG(nn.Module):
    """musicnn's VGG tagger: log-mel patch -> (tag logits, 256-d embedding).

    Parameters
    ----------
    n_frames : int
        Frames per input patch (187 = 3 s); fixes the flattened pool5 size.
    n_mels : int
        Mel bands of the input (96).
    n_classes : int
        Output tags (50).
    n_filters : int
        Filters of every convolution (128).
    kernel_size : int
        Square convolution kernel, odd (3).
    pool_sizes, pool_strides : sequence of (int, int)
        Max-pool size and stride (frames, bands) after each block; one pair
        per block (five blocks).
    block_dropout : float
        Dropout between blocks (0.25; inactive in eval mode).
    dropout : float
        Dropout before the dense layer (0.5; inactive in eval mode).
    bn_eps : float
        Batch-norm epsilon (1e-3, TensorFlow's default).
    """

    def __init__(
        self,
        n_frames: int = 187,
        n_mels: int = 96,
        n_classes: int = 50,
        n_filters: int = 128,
        kernel_size: int = 3,
        pool_sizes: Sequence[Sequence[int]] = POOL_SIZES,
        pool_strides: Sequence[Sequence[int]] = POOL_STRIDES,
        block_dropout: float = 0.25,
        dropout: float = 0.5,
        bn_eps: float = 1e-3,
    ) -> None:
        super().__init__()
        if len(pool_sizes) != len(pool_strides) or not pool_sizes:
            raise ValueError("pool_sizes and pool_strides need one (frames, bands) pair per block")
        self.n_frames = int(n_frames)
        self.n_mels = int(n_mels)
        self.n_classes = int(n_classes)

        self.input_bn = nn.BatchNorm2d(1, eps=bn_eps)
        self.blocks = nn.ModuleList(
            _VggBlock(1 if i == 0 else n_filters, n_filters, kernel_size, size, stride, bn_eps)
            for i, (size, stride) in enumerate(zip(pool_sizes, pool_strides))
        )
        self.block_dropout = nn.Dropout(block_dropout)
        frames, bands = self.n_frames, self.n_mels
        for (size_t, size_f), (stride_t, stride_f) in zip(pool_sizes, pool_strides):
            frames = (frames - size_t) // stride_t + 1
            bands = (bands - size_f) // stride_f + 1
        if frames < 1 or bands < 1:
            raise ValueError(f"a {n_frames} x {n_mels} patch is too small for these pools")
        self.embedding_dim = frames * bands * n_filters
        self.dropout = nn.Dropout(dropout)
        self.classifier = nn.Linear(self.embedding_dim, n_classes)

    def forward(self, mel_patches: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
        """Tag a batch of log-mel patches.

        Parameters
        ----------
        mel_patches : torch.Tensor
            Float32 ``(batch, n_frames, n_mels)`` log-mel patches as returned by
            :func:`~genrescope.mel_patches.musicnn_patches`.

        Returns
        -------
        tag_logits : torch.Tensor
            ``(batch, n_classes)`` logits; apply ``torch.sigmoid`` for the
            musicnn tag probabilities.
        embedding : torch.Tensor
            ``(batch, embedding_dim)`` pool5 flattened in TensorFlow's
            (frame, band, channel) order (256 values for the checkpoints).
        """
        if mel_patches.ndim != 3 or tuple(mel_patches.shape[1:]) != (self.n_frames, self.n_mels):
            raise ValueError(
                f"expected (batch, {self.n_frames}, {self.n_mels}) log-mel patches, "
                f"got {tuple(mel_patches.shape)}"
            )
        x = self.input_bn(mel_patches.unsqueeze(1))  # (B, 1, T, F)
        for i, block in enumerate(self.blocks):
            x = block(x if i == 0 else self.block_dropout(x))
        embedding = x.permute(0, 2, 3, 1).flatten(1)  # NHWC flatten, as TF's
        tag_logits = self.classifier(self.dropout(embedding))
        return tag_logits, embedding


class MusicnnVggModel(_PatchModel):
    """A musicnn VGG tagger: 50 tags, sigmoid scores (shown as they are).

    Same interface as :class:`~genrescope.models.musicnn.MusicnnModel`
    (``net(inputs)`` gives ``(logits, embedding)``), so it can be a component
    of :class:`~genrescope.models.musicnn.MusicnnGenreModel`.
    """

    def __init__(self, config: BundleConfig | dict):
        super().__init__(config)
        network = dict(self.config.network or {})
        network.setdefault("n_frames", self.rep["patch_frames"])
        self.net = MusicnnVGG(**network)
        self._compiled: dict = {}                 # not a submodule: no weights of its own

    def _compile_own(self, device: str) -> None:
        """On the CPU, the network traced, frozen and optimised for inference
        (TorchScript: oneDNN's blocked layout kept from layer to layer instead
        of reordered around each convolution): a 4-patch batch in 51 instead of
        104 ms; outputs within 2e-6 of the module's. Used for calls without
        gradients; the module itself for training."""
        if not str(device).startswith("cpu"):
            return
        self.net.eval()
        example = torch.zeros(4, self.net.n_frames, self.net.n_mels)
        with warnings.catch_warnings(), torch.no_grad():
            warnings.simplefilter("ignore")       # the tracer's note on the shape check
            traced = torch.jit.trace(self.net, example, check_trace=False)
            self._compiled["net"] = torch.jit.optimize_for_inference(torch.jit.freeze(traced))

    def _run(self, inputs: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
        fast = self._compiled.get("net")
        if fast is not None and not torch.is_grad_enabled() and inputs.device.type == "cpu":
            return fast(inputs)
        return self.net(inputs)

    def forward(self, inputs: torch.Tensor) -> torch.Tensor:
        return self._run(inputs)[0]

    def embed(self, inputs: torch.Tensor) -> torch.Tensor:
        return self._run(inputs)[1]

    def scores_and_embed(self, inputs: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
        logits, embedding = self._run(inputs)
        return self.activate(logits), embedding

    def weights(self) -> nn.Module:
        return self.net


FAMILIES = {"musicnn_vgg": MusicnnVggModel}
