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
from dataclasses import dataclass, field

import numpy as np

from .audio import AudioWarning
from .hearing import (INSIDE_TEN, OUTSIDE_FAMILIES, Hearing, Heard, MAX_HEARD, OutsideGenre,
                      chunk_peaks, hear)
from .models.config import BundleConfig, HearingSpec

#: Note codes that mean "not sure enough to act on" (write a file's genre tag,
#: put a track in a genre's playlist): the model is unsure (``ambiguous``,
#: ``unsure``), it is not music (``not_music``, ``silence``), music outside the
#: model's genres (``outside``), speech over music (``speech_over_music``).
NOT_SURE_CODES = frozenset({"unsure", "ambiguous", "not_music", "silence", "outside",
                            "speech_over_music"})
#: Kinds of sound (:data:`genrescope.hearing.KINDS`) that are not music.
NOT_MUSIC_KINDS = frozenset({"speech", "animal", "nature", "noise", "silence"})


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


def not_music_note(probability: float | None, sound=None) -> AudioWarning:
    """The "not music" note, with the head's not-music probability (``None``
    without a head) and, when the companion decided it, the kind of sound
    (a :class:`~genrescope.hearing.SoundKind`)."""
    if sound is None:
        en, zh = "speech, noise, tones or silence?", "语音、噪声、音调或静音？"
    else:
        en, zh = f"it sounds like {sound.kind.en.lower()}", f"听起来像{sound.kind.zh}"
    details = {"not_music_probability": probability, "sound_en": en, "sound_zh": zh}
    if sound is not None:
        details |= {"sound": sound.id, "sound_score": round(sound.score, 4)}
    return AudioWarning(
        "not_music",
        f"This does not sound like music ({en}): any genre given for it is a guess.", details)


def speech_over_music_note(sound) -> AudioWarning:
    """Music under speech (radio, a podcast, a talk over music)."""
    return AudioWarning(
        "speech_over_music",
        "Someone speaks over music (radio, a podcast, a talk?): the genre is a guess about "
        "the music under the voice.",
        {"speech_score": round(sound.evidence["speech"], 4),
         "music_score": round(sound.evidence["music"], 4)})


def outside_note(found: OutsideGenre, tag: str | None = None) -> AudioWarning:
    """A genre none of the labels covers (``found``: :func:`outside_genre`)."""
    return AudioWarning(
        "outside",
        f"Sounds like {found.family.en.lower()} music ({found.genre.en.lower()}), a genre "
        "outside the ten this model knows: the genres below are only the nearest of its ten.",
        {"family": found.family.id, "family_en": found.family.en, "family_zh": found.family.zh,
         "genre_en": found.genre.en, "genre_zh": found.genre.zh,
         "score": round(found.score, 4), "inside_score": round(found.inside_score, 4),
         "confirmed_by_tag": tag})


def hearing_of(companion, chunk_scores: np.ndarray) -> tuple[Hearing, dict]:
    """A companion tagger's per-chunk scores -> (:class:`~genrescope.hearing.Hearing`,
    ``{AudioSet id: clip mean}``)."""
    mean = dict(zip(companion.labels, chunk_scores.mean(axis=0).tolist()))
    peaks = chunk_peaks(companion.labels, chunk_scores)
    return hear(mean, companion.genres, peaks), mean


def outside_genre(spec: HearingSpec, scores: dict, names, side_means: dict | None = None
                  ) -> tuple[OutsideGenre | None, str | None]:
    """The outside genre the evidence names, and the base tagger's tag that
    confirmed it (or None).

    The companion's strongest genre class outside the labels must beat the
    strongest covered class, and reach ``spec.outside_from``, or
    ``spec.outside_confirmed_from`` when a base-tagger tag of the same
    family (``spec.tag_families``) reaches ``spec.tag_from``.
    """
    p = lambda label: float(scores.get(label, 0.0))          # noqa: E731
    family, cls = max(((f, c) for f, classes in OUTSIDE_FAMILIES for c in classes),
                      key=lambda fc: p(fc[1]))
    inside = max(p(c) for c in INSIDE_TEN)
    tags = [(t, float((side_means or {}).get(f"style:{t}", 0.0)))
            for t, fam in spec.tag_families.items() if fam == family.id]
    tag, tag_score = max(tags, key=lambda ts: ts[1], default=(None, 0.0))
    confirmed = tag is not None and tag_score >= spec.tag_from
    needed = spec.outside_confirmed_from if confirmed else spec.outside_from
    if p(cls) < needed or p(cls) <= inside:
        return None, None
    return OutsideGenre(family, names(cls), p(cls), inside), (tag if confirmed else None)


def model_notes(config: BundleConfig, top_probability: float,
                not_music_probability: float | None = None, hearing: Hearing | None = None,
                outside: tuple | None = None) -> list[AudioWarning]:
    """The model's notes on one clip.

    "speech_over_music" when the companion hears music under speech; else
    "not_music" as ``config.hearing.not_music`` decides from the not-music
    head (at or over ``not_music.threshold``) and the companion's kind of
    sound (:data:`NOT_MUSIC_KINDS`); not music: that note alone. Then
    "outside" (``outside``: :func:`outside_genre`'s answer) and "ambiguous"
    (top probability under ``calibration.unsure_below``).
    """
    head_says = not_music_probability is not None and config.not_music is not None \
        and not_music_probability >= config.not_music.threshold
    notes = []
    if hearing is not None and hearing.kind.id == "music_under_speech":
        notes.append(speech_over_music_note(hearing.kind))
    else:
        hear_says = hearing is not None and hearing.kind.id in NOT_MUSIC_KINDS
        rule = config.hearing.not_music if config.hearing and hearing is not None else "head"
        if {"head": head_says, "hearing": hear_says, "either": head_says or hear_says,
                "both": head_says and hear_says}[rule]:
            return [not_music_note(not_music_probability, hearing.kind if hear_says else None)]
    if outside is not None and outside[0] is not None:
        notes.append(outside_note(*outside))
    if top_probability < config.calibration.unsure_below:
        notes.append(ambiguous_note(top_probability, config.calibration.unsure_below))
    return notes


def combine_heard(heards: Sequence[Sequence[Heard]]) -> list[Heard]:
    """Several windows' ``heard`` -> the track's: each voice or instrument
    once, with its best score; the voice (or "instrumental") first, at most
    :data:`~genrescope.hearing.MAX_HEARD`; "instrumental" only when no window
    heard a voice."""
    best: dict[str, Heard] = {}
    for h in (h for window in heards for h in window):
        if h.name.id not in best or h.score > best[h.name.id].score:
            best[h.name.id] = h
    voices = sorted((h for h in best.values() if h.kind == "voice"), key=lambda h: -h.score)
    rest = [h for h in best.values() if h.kind == "instrumental" and not voices]
    rest += sorted((h for h in best.values() if h.kind == "instrument"), key=lambda h: -h.score)
    return (voices[:1] + rest)[:MAX_HEARD]


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
    heard : list of Heard
        Voices and instruments heard (:func:`combine_heard`; none when a
        window was not music).
    """

    probabilities: np.ndarray
    order: np.ndarray
    warnings: list[AudioWarning]
    embedding: np.ndarray | None = None
    heard: list = field(default_factory=list)


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
    heard = [] if any(w.code == "not_music" for w in warnings) \
        else combine_heard([p.heard for p in predictions])
    return TrackResult(probs, order, warnings, embedding, heard)
