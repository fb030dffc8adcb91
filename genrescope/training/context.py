"""The clip-level context block of each training file (:mod:`genrescope.context`),
made as the Classifier makes it at run time, and cached."""

from __future__ import annotations

from dataclasses import replace

import numpy as np
import torch

from ..audio import load_audio
from ..context import companion_inputs, context_block
from ..hearing import INSIDE_TEN, OUTSIDE_FAMILIES
from .common import FeatureCache, extract_features

#: The AudioSet genre classes of the default's block: the ten's own classes,
#: then every outside family's (:mod:`genrescope.hearing`).
AUDIOSET_GENRE_CLASSES = list(INSIDE_TEN) + [c for _, classes in OUTSIDE_FAMILIES
                                             for c in classes]
#: The default's ``head.context``: mn04's 384-d clip embedding and its genre
#: classes' probabilities (measured by tools/genre_audioset_block.py).
AUDIOSET_CONTEXT = {"from": "hearing", "embedding_dim": 384, "classes": AUDIOSET_GENRE_CLASSES}


def load_companion(name: str, device="cpu"):
    """The companion model ``name`` (the default's ``audioset``), from the registry."""
    from ..models.registry import load_model, resolve

    return load_model(resolve(name), str(device))


def context_blocks(items, spec, companion, *, max_seconds: float, duration_s: float | None,
                   cache, progress: bool = False, gain_db: float = 0.0):
    """The block of each labelled file, as the Classifier makes it for the
    file's first ``duration_s`` (decoded at the companion's rate; ``gain_db``:
    the same audio that much louder, e.g. -20 for a quieter copy), through
    ``cache`` (a :class:`~genrescope.training.common.FeatureCache` root).

    Returns
    -------
    dict
        ``{item: block}`` for the files that decoded.
    """
    params = {"context": spec.model_dump(by_alias=True), "companion": companion.name,
              "companion_representation": companion.config.representation,
              "max_seconds": max_seconds, **({"gain_db": gain_db} if gain_db else {})}
    store = FeatureCache(cache, "context", params)

    def compute(path):
        audio = load_audio(path, companion.sr, duration_s=duration_s)
        if gain_db:
            gain = np.float32(10 ** (gain_db / 20))
            audio = replace(audio, y=(audio.y * gain).astype(np.float32))
        inputs = companion_inputs(companion, audio, max_seconds)
        with torch.inference_mode():
            scores, embeddings = companion.scores_and_embed(inputs)
        return context_block(spec, companion, scores.float().numpy(), embeddings.float().numpy())

    arrays, kept, _ = extract_features(list(items), store, compute, duration_s, progress,
                                       "context blocks")
    return dict(zip(kept, arrays))
