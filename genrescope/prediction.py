"""What one classification produced: :class:`Prediction` (made by
:meth:`genrescope.predict.Classifier.classify`) and its JSON (``to_dict``),
the same for the CLI, the API and the page."""

from __future__ import annotations

from dataclasses import dataclass, field

import numpy as np

from .audio import Audio
from .features import Features
from .labels import Genre
from .timeline import Timeline


@dataclass(frozen=True)
class GenreScore:
    """One genre with its probability."""

    genre: Genre
    probability: float

    @property
    def label(self) -> str:
        return self.genre.id

    def name(self, lang: str = "en") -> str:
        return self.genre.name(lang)

    def to_dict(self, lang: str = "en") -> dict:
        return {"label": self.label, "name": self.name(lang), "name_en": self.genre.en,
                "name_zh": self.genre.zh, "probability": round(self.probability, 6)}


@dataclass
class Prediction:
    """Everything one classification produced.

    Attributes
    ----------
    model : str
        Name of the model that made it.
    genres : list of Genre
        The model's labels, in output order.
    top : list of GenreScore
        The ``top_k`` genres, most likely first.
    probabilities : dict
        Label id -> probability, for every label (averaged over chunks).
    chunk_probabilities : np.ndarray
        (n_chunks, n_labels) scores of each chunk.
    majority : GenreScore
        The official app's answer: the genre most chunks voted for, with the
        fraction of chunks that voted for it.
    features : Features
        The spectrogram and the images the model looked at.
    audio : Audio
        The decoded window (``y`` at the model's sample rate).
    warnings : list of AudioWarning
    timings : dict
        Seconds per stage: ``decode``, ``features``, ``network``, ``total``.
    source : str or None
        The file classified, if any.
    precision : str
        Numeric precision the network ran in (``"fp32"`` or ``"int8"``).
    timeline : Timeline or None
        Each chunk's scores with its start and end seconds, and the merged
        segments where the leading genre changes (see :mod:`genrescope.timeline`).
    embedding : np.ndarray or None
        The clip embedding (as :meth:`Classifier.embed_audio`), when
        ``classify(..., embed=True)`` asked for it (same network pass).
    score : {"probability", "tags"}
        What a score is, the same for the clip, each chunk, the CLI, the JSON
        and the page: ``"probability"``, scores over the labels that add up to
        1 (softmax, or a tagger's genre tags rescaled: ``Model.normalise``);
        ``"tags"``, each label's own probability (a tagger's sigmoid), which
        do not add up to 1.
    styles : list of GenreScore
        Styles heard beside the genre (models whose config has ``styles``,
        e.g. the default's ``classic rock``, ``hard rock``): a tagger's own
        tag probabilities, strongest first; empty for other models and when
        the audio does not sound like music.
    heard : list of Heard
        Voices and instruments heard (:class:`genrescope.hearing.Heard`: the
        voice, or "instrumental", then instruments; at most three), from the
        model's AudioSet companion (config ``hearing``); empty for other
        models and when the audio is not music.
    sound : SoundKind or None
        What the companion says the audio is (music, speech, music under
        speech, animal, nature, noise, silence); None without a companion.
    side_scores : dict
        Clip means of the model's side outputs (:attr:`Model.extras`:
        ``not_music``, ``style:<tag>``) and, with a companion, its clip mean
        of each AudioSet class as ``audioset:<id>``.
    context : np.ndarray or None
        The clip-level block the model's head read beside every chunk (its
        companion's, :mod:`genrescope.context`); None for models without one.
        Explanations occlude the chunks with this block held fixed.
    """

    model: str
    genres: list
    top: list
    probabilities: dict
    chunk_probabilities: np.ndarray
    majority: GenreScore
    features: Features
    audio: Audio
    warnings: list = field(default_factory=list)
    timings: dict = field(default_factory=dict)
    source: str | None = None
    precision: str = "fp32"
    timeline: Timeline | None = None
    embedding: np.ndarray | None = None
    score: str = "probability"
    styles: list = field(default_factory=list)
    heard: list = field(default_factory=list)
    sound: object = None
    side_scores: dict = field(default_factory=dict)
    context: np.ndarray | None = None

    @property
    def is_tags(self) -> bool:
        """Whether the scores are independent tag probabilities (a tagger such
        as ``msd_musicnn``: sigmoid, not rescaled), which do not add up to 1."""
        return self.score == "tags"

    @property
    def images(self) -> list:
        """The model's input pictures (RGB uint8), one per chunk."""
        return self.features.images

    def to_dict(self, lang: str = "en") -> dict:
        """JSON-ready summary (no arrays except the chunk scores)."""
        return {
            "file": self.source,
            "model": self.model,
            "precision": self.precision,
            "score": self.score,
            "top": [g.to_dict(lang) for g in self.top],
            "styles": [g.to_dict(lang) for g in self.styles],
            "heard": [heard_dict(h, lang) for h in self.heard],
            "sound": None if self.sound is None else
            {"kind": self.sound.id, "name": self.sound.kind.name(lang),
             "score": round(self.sound.score, 6)},
            "majority_vote": self.majority.to_dict(lang) | {"votes": self.majority.probability},
            "warnings": [w.to_dict(lang) for w in self.warnings],
            "audio": {"offset_s": round(self.audio.offset_s, 3),
                      "duration_s": round(self.audio.duration_s, 3),
                      "source_sr": self.audio.source_sr,
                      "source_channels": self.audio.source_channels,
                      "n_chunks": int(self.chunk_probabilities.shape[0])},
            "timings": {k: round(v, 4) for k, v in self.timings.items()},
            "timeline": self.timeline.to_dict(lang) if self.timeline else None,
        }


def heard_dict(h, lang: str = "en") -> dict:
    """One :class:`~genrescope.hearing.Heard` as JSON."""
    return {"kind": h.kind, "label": h.name.id, "name": h.name.name(lang), "name_en": h.name.en,
            "name_zh": h.name.zh, "score": round(h.score, 6)}
