"""The companion's pass over a window, and the clip-level context block a head reads.

A model with a companion (config ``hearing``, the default's AudioSet mn04)
hears the middle ``hearing.max_seconds`` of each analysed window once
(:func:`companion_inputs`). A head whose config declares ``head.context``
(:class:`~genrescope.models.config.ContextSpec`) also reads, beside every
patch's embedding, one block per window made from that same pass
(:func:`context_block`): the companion's mean embedding over its chunks, then
its mean probability of each named class. The Classifier, the library's
indexer (each 3 s window its own block), explanations (the block stays fixed
while patches are occluded) and training (:func:`genrescope.training.context.context_blocks`)
all make the block here.
"""

from __future__ import annotations

import numpy as np
import torch

from .audio import Audio, at_rate
from .errors import GenrescopeError


def companion_inputs(companion, decoded: Audio, max_seconds: float) -> torch.Tensor:
    """The companion's network inputs for the middle ``max_seconds`` of
    ``decoded`` (resampled to the companion's rate when it is not at it)."""
    audio = at_rate(decoded, companion.sr)
    n = min(len(audio.y), int(round(max_seconds * audio.sr)))
    start = (len(audio.y) - n) // 2
    return companion.features(audio.y[start:start + n]).inputs


def class_columns(spec, companion) -> list[int]:
    """The companion's output column of each of ``spec.classes`` (checked)."""
    missing = [c for c in spec.classes if c not in companion.labels]
    if missing:
        raise GenrescopeError(f"The context block names classes {missing} that "
                              f"{companion.name} does not output.")
    return [companion.labels.index(c) for c in spec.classes]


def context_block(spec, companion, scores: np.ndarray, embeddings: np.ndarray) -> np.ndarray:
    """(``spec.dim``,) float32: the mean of the companion's per-chunk
    ``embeddings``, then the mean of its per-chunk ``scores`` of ``spec.classes``."""
    if embeddings.shape[1] != spec.embedding_dim:
        raise GenrescopeError(f"The context block expects a {spec.embedding_dim}-d embedding "
                              f"from {companion.name}, which gives {embeddings.shape[1]}.")
    return np.concatenate([embeddings.mean(axis=0),
                           scores.mean(axis=0)[class_columns(spec, companion)]]
                          ).astype(np.float32)


def with_context(arrays: dict, blocks: dict) -> dict:
    """``{item: per-patch inputs}`` with each item's block appended to every patch."""
    return {i: np.concatenate([a, np.repeat(blocks[i][None], len(a), 0)], 1).astype(np.float32)
            for i, a in arrays.items()}
