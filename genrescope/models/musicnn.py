"""musicnn (Pons & Serra, ISMIR 2019 LBD) re-implemented in plain PyTorch.

This is a faithful port of ``build_musicnn`` from the ``musicnn`` 0.1.0
package (``musicnn/models.py``, TensorFlow 1 graph, ISC licence, (c) Music
Technology Group, Universitat Pompeu Fabra 2019, code by Jordi Pons).
Weights converted from the package's ``MSD_musicnn`` and ``MTT_musicnn``
checkpoints by ``tools/convert_musicnn.py`` reproduce TensorFlow's tag
probabilities to better than 1e-4.  TensorFlow is *not* needed here.

Network (defaults = the shipped checkpoints, input ``(batch, 187, 96)``):

* input batch norm (one scalar channel);
* front-end, five branches applied to the normalised log-mel, each
  ``conv -> ReLU -> batch norm -> max over all remaining frequency bins``:

  - two *timbral* branches, 204 filters of 7 frames x 38 mels and
    7 frames x 67 mels (``int(0.4 * 96)``, ``int(0.7 * 96)``), time padded by
    3 zero frames on each side, no frequency padding ('valid');
  - three *temporal* branches, 51 filters of 128, 64 and 32 frames x 1 mel,
    TensorFlow 'same' padding in time, i.e. ``(k - 1) // 2`` zeros before
    and ``k // 2`` after (more on the right for even kernels);

  concatenated to 561 channels per frame (order 38, 67, 128, 64, 32);
* mid-end, three 1-D convolutions of 64 filters x 7 frames (zero padding 3)
  over the channel axis, each ``conv -> ReLU -> batch norm``; the 2nd and 3rd
  add a residual connection (after the batch norm);
  the front-end output and the three mid-end outputs are concatenated
  ("dense" connection): 561 + 3 * 64 = 753 channels;
* back-end: max and mean over time, interleaved per channel exactly as TF's
  ``flatten(concat([max, mean], axis=2))`` does (``[max_0, mean_0, max_1,
  mean_1, ...]``, 1506 values) -> batch norm -> dropout -> dense 200 -> ReLU
  -> batch norm (= the 200-d embedding, musicnn's ``penultimate``) ->
  dropout -> dense 50 (tag logits; musicnn applies a sigmoid).

All batch norms use epsilon 1e-3 (TensorFlow's default).  Remember to call
``.eval()``: the batch norms then use the stored running statistics.

The log-mel input is produced by :func:`genrescope.mel_patches.musicnn_patches`.
"""

from __future__ import annotations

from collections.abc import Sequence
from pathlib import Path

import numpy as np
import torch
import torch.nn.functional as F
from torch import nn

from ..errors import GenrescopeError
from ..features import Features
from ..mel_patches import patch_features
from .base import Model
from .config import BundleConfig

__all__ = ["Musicnn", "MusicnnModel", "MusicnnGenreModel"]


# --------------------------------------------------------------------------- #
# network
# --------------------------------------------------------------------------- #
class _FrontEndBranch(nn.Module):
    """``conv2d -> ReLU -> batch norm -> max over frequency`` on ``(B, 1, T, F)``.

    Parameters
    ----------
    n_filters : int
        Output channels.
    time_kernel_frames, freq_kernel_bins : int
        Kernel size (time, frequency).
    pad_before_frames, pad_after_frames : int
        Zero padding added in time only (frequency is 'valid').
    bn_eps : float
        Batch-norm epsilon.
    """

    def __init__(
        self,
        n_filters: int,
        time_kernel_frames: int,
        freq_kernel_bins: int,
        pad_before_frames: int,
        pad_after_frames: int,
        bn_eps: float,
    ) -> None:
        super().__init__()
        self.pad_before_frames = pad_before_frames
        self.pad_after_frames = pad_after_frames
        self.conv = nn.Conv2d(1, n_filters, (time_kernel_frames, freq_kernel_bins))
        self.bn = nn.BatchNorm2d(n_filters, eps=bn_eps)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        """Map ``(B, 1, T, F)`` to ``(B, n_filters, T)``."""
        x = F.pad(x, (0, 0, self.pad_before_frames, self.pad_after_frames))
        if self.training:
            return self.bn(F.relu(self.conv(x))).amax(dim=3)
        # eval: the max over frequency of the large (B, C, T, F) map first, then
        # ReLU and batch norm on (B, C, T): a third of the work, the same numbers
        return reduced_before_bn(self.conv, self.bn, x, lambda y: y.amax(dim=3))


def reduced_before_bn(conv: nn.Conv2d, bn: nn.BatchNorm2d, x: torch.Tensor,
                      reduce) -> torch.Tensor:
    """Eval-mode ``reduce(bn(relu(conv(x))))`` for a max-type ``reduce`` (a max
    over an axis, a max pool), reducing the large convolution map first.

    Batch norm in eval mode is a per-channel ``a * v + b``; it and ReLU are
    monotonic, so they commute with a max (a min where ``a < 0``). The min is
    taken as the max of the convolution with that channel's weights and bias
    negated (exactly ``-conv``), negated back: one reduction for every channel,
    then ReLU and batch norm on the reduced map. The same numbers.
    """
    sign = torch.where(bn.weight / torch.sqrt(bn.running_var + bn.eps) < 0, -1.0, 1.0)
    bias = None if conv.bias is None else conv.bias * sign
    y = reduce(F.conv2d(x, conv.weight * sign.view(-1, 1, 1, 1), bias, conv.stride,
                        conv.padding, conv.dilation, conv.groups))
    y = y * sign.view(1, -1, *([1] * (y.ndim - 2)))
    return F.batch_norm(F.relu(y), bn.running_mean, bn.running_var, bn.weight, bn.bias,
                        training=False, eps=bn.eps)


class _MidEndLayer(nn.Module):
    """``conv1d (same) -> ReLU -> batch norm`` on ``(B, C, T)``."""

    def __init__(self, in_channels: int, n_filters: int, kernel_frames: int, bn_eps: float) -> None:
        super().__init__()
        # musicnn pads (k - 1) // 2 zeros on both sides (k is odd: 7)
        self.conv = nn.Conv1d(in_channels, n_filters, kernel_frames, padding=(kernel_frames - 1) // 2)
        self.bn = nn.BatchNorm1d(n_filters, eps=bn_eps)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.bn(F.relu(self.conv(x)))


class Musicnn(nn.Module):
    """musicnn tagger: log-mel patch -> (tag logits, 200-d embedding).

    Parameters
    ----------
    n_mels : int
        Mel bands of the input (96).
    n_classes : int
        Output tags (50).
    embedding_dim : int
        Units of the penultimate dense layer (200); its batch-normalised
        output is returned as the embedding.
    timbral_filters : int
        Filters per timbral branch (``int(1.6 * 128) = 204``).
    timbral_time_kernel_frames : int
        Time extent of the timbral kernels (7, zero padded 3 + 3).
    timbral_freq_ratios : sequence of float
        Frequency extent of each timbral kernel as a fraction of ``n_mels``;
        the kernel height is ``int(ratio * n_mels)`` as in musicnn
        ((0.4, 0.7) -> 38 and 67 bins).
    temporal_filters : int
        Filters per temporal branch (``int(1.6 * 32) = 51``).
    temporal_kernel_frames : sequence of int
        Time extent of each temporal (1-bin wide) kernel ((128, 64, 32)).
    midend_filters : int
        Filters of each mid-end convolution (64).
    midend_kernel_frames : int
        Time extent of the mid-end kernels (7, odd).
    n_midend_layers : int
        Mid-end convolutions (3); all but the first are residual.
    dropout : float
        Dropout rate before each dense layer (0.5; inactive in eval mode).
    bn_eps : float
        Batch-norm epsilon (1e-3, TensorFlow's default).
    """

    def __init__(
        self,
        n_mels: int = 96,
        n_classes: int = 50,
        embedding_dim: int = 200,
        timbral_filters: int = 204,
        timbral_time_kernel_frames: int = 7,
        timbral_freq_ratios: Sequence[float] = (0.4, 0.7),
        temporal_filters: int = 51,
        temporal_kernel_frames: Sequence[int] = (128, 64, 32),
        midend_filters: int = 64,
        midend_kernel_frames: int = 7,
        n_midend_layers: int = 3,
        dropout: float = 0.5,
        bn_eps: float = 1e-3,
    ) -> None:
        super().__init__()
        if midend_kernel_frames % 2 != 1 or timbral_time_kernel_frames % 2 != 1:
            raise ValueError("timbral and mid-end time kernels must be odd")
        if n_midend_layers < 1:
            raise ValueError("n_midend_layers must be >= 1")
        self.n_mels = int(n_mels)
        self.n_classes = int(n_classes)
        self.embedding_dim = int(embedding_dim)

        self.input_bn = nn.BatchNorm2d(1, eps=bn_eps)

        half = (timbral_time_kernel_frames - 1) // 2
        self.timbral = nn.ModuleList(
            _FrontEndBranch(
                timbral_filters, timbral_time_kernel_frames, int(ratio * n_mels), half, half, bn_eps
            )
            for ratio in timbral_freq_ratios
        )
        # TensorFlow 'same' padding, stride 1: (k-1)//2 before, the rest after
        self.temporal = nn.ModuleList(
            _FrontEndBranch(temporal_filters, k, 1, (k - 1) // 2, k - 1 - (k - 1) // 2, bn_eps)
            for k in temporal_kernel_frames
        )
        frontend_channels = timbral_filters * len(timbral_freq_ratios) + temporal_filters * len(
            temporal_kernel_frames
        )

        self.midend = nn.ModuleList(
            _MidEndLayer(frontend_channels if i == 0 else midend_filters, midend_filters, midend_kernel_frames, bn_eps)
            for i in range(n_midend_layers)
        )
        pooled_channels = frontend_channels + n_midend_layers * midend_filters

        self.pool_bn = nn.BatchNorm1d(2 * pooled_channels, eps=bn_eps)
        self.pool_dropout = nn.Dropout(dropout)
        self.dense = nn.Linear(2 * pooled_channels, embedding_dim)
        self.dense_bn = nn.BatchNorm1d(embedding_dim, eps=bn_eps)
        self.dense_dropout = nn.Dropout(dropout)
        self.classifier = nn.Linear(embedding_dim, n_classes)

    def forward(self, mel_patches: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
        """Tag a batch of log-mel patches.

        Parameters
        ----------
        mel_patches : torch.Tensor
            Float32 ``(batch, frames, n_mels)`` log-mel patches as returned by
            :func:`~genrescope.mel_patches.musicnn_patches` (187 frames = 3 s for the checkpoints;
            other lengths work, the back-end pools over time).

        Returns
        -------
        tag_logits : torch.Tensor
            ``(batch, n_classes)`` logits; apply ``torch.sigmoid`` for the
            musicnn tag probabilities.
        embedding : torch.Tensor
            ``(batch, embedding_dim)`` penultimate-layer features (after ReLU
            and batch norm, musicnn's ``penultimate``).
        """
        if mel_patches.ndim != 3 or mel_patches.shape[2] != self.n_mels:
            raise ValueError(
                f"expected (batch, frames, {self.n_mels}) log-mel patches, got {tuple(mel_patches.shape)}"
            )
        x = self.input_bn(mel_patches.unsqueeze(1))  # (B, 1, T, F)
        branches = [branch(x) for branch in self.timbral] + [branch(x) for branch in self.temporal]
        frontend = torch.cat(branches, dim=1)  # (B, 561, T)

        features = [frontend]
        h = frontend
        for i, layer in enumerate(self.midend):
            out = layer(h)
            h = out if i == 0 else out + h
            features.append(h)
        feature_map = torch.cat(features, dim=1)  # (B, 753, T)

        # [max_0, mean_0, max_1, mean_1, ...] as TF's flatten of (B, C, 2)
        pooled = torch.stack((feature_map.amax(dim=2), feature_map.mean(dim=2)), dim=2).flatten(1)
        pooled = self.pool_dropout(self.pool_bn(pooled))
        embedding = self.dense_bn(F.relu(self.dense(pooled)))
        tag_logits = self.classifier(self.dense_dropout(embedding))
        return tag_logits, embedding


# --------------------------------------------------------------------------- #
# genrescope models
# --------------------------------------------------------------------------- #
class _PatchModel(Model):
    """A model on musicnn's log-mel patches (``config["representation"]``)."""

    def __init__(self, config: BundleConfig | dict):
        super().__init__(config)
        self.rep = self.config.representation

    @property
    def sr(self) -> int:
        return self.rep["sr"]

    def features(self, y: np.ndarray) -> Features:
        return patch_features(y, self.rep)


class MusicnnModel(_PatchModel):
    """A musicnn tagger: 50 tags, sigmoid scores (shown as they are)."""

    def __init__(self, config: BundleConfig | dict):
        super().__init__(config)
        self.net = Musicnn(**(self.config.network or {}))

    def forward(self, inputs: torch.Tensor) -> torch.Tensor:
        return self.net(inputs)[0]

    def embed(self, inputs: torch.Tensor) -> torch.Tensor:
        return self.net(inputs)[1]

    def scores_and_embed(self, inputs: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
        logits, embedding = self.net(inputs)                 # one pass for both
        return self.activate(logits), embedding

    def weights(self) -> nn.Module:
        return self.net


class MusicnnGenreModel(_PatchModel):
    """The default genre model: the genre tags of several musicnn taggers.

    ``config["components"]`` names the tagger bundles (shipped beside this
    one); ``config["tag_map"]`` maps each genre id to the component tags it
    is made of: ``{"rock": {"msd_musicnn": ["rock"], "mtt_musicnn": ["rock"]}}``.
    A genre's score in a patch is the mean sigmoid probability of its tags;
    the Classifier averages patches and renormalises over the genres
    (relative confidence). The embedding is the components' embeddings
    concatenated (200 values per musicnn tagger, 256 per musicnn VGG tagger,
    :mod:`~genrescope.models.musicnn_vgg`; any family on the same patches
    whose ``net`` returns ``(logits, embedding)`` can be a component).
    """

    def __init__(self, config: BundleConfig | dict, components: dict[str, _PatchModel]):
        super().__init__(config)
        self.components = nn.ModuleDict(components)
        for name, comp in components.items():
            if comp.rep != self.rep:
                raise ValueError(f"component {name} has another representation")
            rows = torch.zeros(len(self.labels), len(comp.labels))
            for i, label in enumerate(self.labels):
                tags = self.config.tag_map[label].get(name, [])
                for tag in tags:
                    rows[i, comp.labels.index(tag)] = 1.0
            self.register_buffer(f"map_{name}", rows, persistent=False)
        self.register_buffer("n_tags", sum(getattr(self, f"map_{n}").sum(1)
                                           for n in components), persistent=False)

    @classmethod
    def from_folder(cls, config: BundleConfig, folder: Path, weights: Path,
                    load_dependency=None) -> "MusicnnGenreModel":
        """Load the component taggers by name (through ``load_dependency``)."""
        if load_dependency is None:
            raise GenrescopeError(f"{config.name} is built on other models: load it "
                                  "through genrescope.models.registry.load_model.")
        components = {name: load_dependency(name, folder) for name in config.components}
        return cls(config, components)

    def scores(self, inputs: torch.Tensor) -> torch.Tensor:
        total = 0
        for name, comp in self.components.items():
            total = total + torch.sigmoid(comp(inputs)) @ getattr(self, f"map_{name}").T
        return total / self.n_tags

    def forward(self, inputs: torch.Tensor) -> torch.Tensor:
        return torch.logit(self.scores(inputs), eps=1e-6)

    def embed(self, inputs: torch.Tensor) -> torch.Tensor:
        return torch.cat([comp.embed(inputs) for comp in self.components.values()], dim=1)

    def scores_and_embed(self, inputs: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
        """:meth:`scores` and :meth:`embed` from one pass of each tagger."""
        total, embeddings = 0, []
        for name, comp in self.components.items():
            logits, embedding = comp.net(inputs)
            total = total + torch.sigmoid(logits) @ getattr(self, f"map_{name}").T
            embeddings.append(embedding)
        return total / self.n_tags, torch.cat(embeddings, dim=1)


FAMILIES = {"musicnn": MusicnnModel, "musicnn_genres": MusicnnGenreModel}
