"""Chunks and windows -> one answer with its notes.

The one place where a model's per-chunk scores become a clip's answer
(:func:`clip_scores`, :func:`model_notes`: :meth:`Classifier.classify
<genrescope.predict.Classifier.classify>`, and training, which measures its
heads as they will be used) and where several windows of a track become the
track's answer (:func:`combine_windows`: the library's indexer).

The thresholds come from the model's configuration
(:class:`~genrescope.models.config.BundleConfig`): ``calibration.unsure_below``
and ``not_music.threshold``, with their defaults there.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np

from .audio import AudioWarning
from .models.config import BundleConfig

#: Note codes that mean "not sure enough to act on" (write a file's genre tag,
#: put a track in a genre's playlist): the model is unsure (``ambiguous``,
#: ``unsure``), it is not music (``not_music``, ``silence``), music outside the
#: model's genres (``outside``), speech over music (``speech_over_music``).
NOT_SURE_CODES = frozenset({"unsure", "ambiguous", "not_music", "silence", "outside",
                            "speech_over_music"})


def clip_scores(chunk_scores: np.ndarray, *, normalise: bool) -> np.ndarray:
    """(n_chunks, n_labels) -> (n_labels,): the mean over chunks, rescaled to
    sum to 1 when ``normalise`` (a model's ``normalise``) and not all zero."""
    mean = chunk_scores.mean(axis=0)
    if normalise and mean.sum() > 0:
        mean = mean / mean.sum()
    return mean


def clips_scores(chunk_scores: np.ndarray, clip_of_chunk: np.ndarray, n_clips: int, *,
                 normalise: bool) -> np.ndarray:
    """:func:`clip_scores` of many clips at once: ``clip_of_chunk[i]`` is the
    clip (0 .. n_clips - 1) of row ``i``; (n_clips, n_labels)."""
    return np.stack([clip_scores(chunk_scores[clip_of_chunk == k], normalise=normalise)
                     for k in range(n_clips)])


def ambiguous_note(top_probability: float, unsure_below: float) -> AudioWarning:
    """The "ambiguous" note: the top genre is under the calibrated threshold."""
    return AudioWarning(
        "ambiguous",
        f"The top genre has only {top_probability:.0%}: the model is unsure, "
        "the answer may be one of several.",
        {"top_probability": top_probability, "unsure_below": unsure_below})


def not_music_note(probability: float) -> AudioWarning:
    """The "not music" note, with the not-music probability."""
    return AudioWarning(
        "not_music",
        "This does not sound like music (speech, noise, tones or silence?): "
        "any genre given for it is a guess.", {"not_music_probability": probability})


def model_notes(config: BundleConfig, top_probability: float,
                not_music_probability: float | None = None) -> list[AudioWarning]:
    """The model's note on one clip: "not music" (models with a not-music
    head, at or over ``not_music.threshold``), else "ambiguous" (top
    probability under ``calibration.unsure_below``), else none."""
    if not_music_probability is not None and config.not_music is not None \
            and not_music_probability >= config.not_music.threshold:
        return [not_music_note(not_music_probability)]
    if top_probability < config.calibration.unsure_below:
        return [ambiguous_note(top_probability, config.calibration.unsure_below)]
    return []


@dataclass
class TrackResult:
    """Several windows of one track, combined.

    Attributes
    ----------
    probabilities : np.ndarray
        (n_labels,) float64: the windows' clip scores averaged, each weighted
        by its number of chunks (then rescaled when the model normalises).
    order : np.ndarray
        Label indices, most likely first.
    warnings : list of AudioWarning
        Each window's notes once per code, and "ambiguous" decided again for
        the whole track (never beside "not_music").
    embedding : np.ndarray or None
        The windows' embeddings averaged the same way (float32).
    """

    probabilities: np.ndarray
    order: np.ndarray
    warnings: list[AudioWarning]
    embedding: np.ndarray | None = None


def combine_windows(predictions: Sequence, config: BundleConfig) -> TrackResult:
    """Windows of one track (:class:`~genrescope.predict.Prediction` objects of
    one model, with ``embedding`` when they were asked for) -> one answer."""
    weights = np.array([len(p.chunk_probabilities) for p in predictions], dtype=np.float64)
    probs = np.average([[p.probabilities[g.id] for g in p.genres] for p in predictions],
                       axis=0, weights=weights)
    if probs.sum() > 0 and config.scores_sum_to_one:
        probs = probs / probs.sum()
    order = np.argsort(-probs, kind="stable")
    warnings: list[AudioWarning] = []
    for p in predictions:
        warnings += [w for w in p.warnings if w.code != "ambiguous"
                     and all(w.code != seen.code for seen in warnings)]
    top_probability = float(probs[order[0]])
    if top_probability < config.calibration.unsure_below \
            and not any(w.code == "not_music" for w in warnings):
        warnings.append(ambiguous_note(top_probability, config.calibration.unsure_below))
    embedding = None
    if all(p.embedding is not None for p in predictions):
        embedding = np.average(np.stack([p.embedding for p in predictions]), axis=0,
                               weights=weights).astype(np.float32)
    return TrackResult(probs, order, warnings, embedding)
