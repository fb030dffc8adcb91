"""The one entry point: load a model once, classify files or arrays.

>>> from genrescope import Classifier
>>> clf = Classifier.load()                          # the shipped default model
>>> pred = clf.classify("song.mp3")                  # doctest: +SKIP
>>> [(g.name("en"), round(g.probability, 3)) for g in pred.top]  # doctest: +SKIP
"""

from __future__ import annotations

import os
import time
from collections import Counter
from dataclasses import dataclass, field

import numpy as np
import torch

from .audio import Audio, audio_from_array, load_audio, quality_warnings
from .errors import GenrescopeError
from .features import Features
from .labels import Genre
from .models.base import Model
from .models.registry import ModelEntry, load_model, resolve
from .timeline import Timeline, build_timeline
from .track import clip_scores, model_notes

DEFAULT_DURATION_S = 30.0
#: Chunks per network call: peak memory is that of one batch, whatever the length.
NETWORK_BATCH = 8


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


class Classifier:
    """A loaded model, ready to classify audio.

    Parameters
    ----------
    model : Model
        A loaded model (see :meth:`load`).
    device : str
        Where the network runs.

    Examples
    --------
    >>> clf = Classifier.load("vgg19_bn_cqt", models_dir="models")   # doctest: +SKIP
    >>> clf.classify("song.wav", duration_s=30).top[0].name("zh")    # doctest: +SKIP
    '交响乐'
    """

    def __init__(self, model: Model, device: str = "cpu", entry: ModelEntry | None = None):
        self.model = model
        self.device = device
        self.entry = entry

    @classmethod
    def load(cls, name: str | os.PathLike | None = None, *,
             models_dir: str | os.PathLike | None = None,
             device: str | None = None, precision: str = "auto") -> "Classifier":
        """Load a model by name or folder (default: the shipped default model).

        Parameters
        ----------
        name : str or PathLike, optional
            A name from ``genrescope models``, or a model folder or weights file.
        models_dir : str or PathLike, optional
            Where official checkpoints and user bundles live (default
            ``$GENRESCOPE_MODELS`` or ``./models``).
        device : {"cpu", "cuda"}, optional
            Default: CUDA when torch sees a GPU, else CPU.
        precision : {"auto", "fp32", "int8"}
            Numeric precision of the network. ``"int8"``: VGG models on the
            CPU, calibrated at load, about 4x faster forward. ``"auto"``: int8
            for a VGG checkpoint whose top-1 agreed with float32 on >= 99 % of
            the check clips (checked on its first load, then cached; see
            :mod:`genrescope.models.quantize`), else float32.
        """
        device = device or ("cuda" if torch.cuda.is_available() else "cpu")
        if device.startswith("cuda") and not torch.cuda.is_available():
            raise GenrescopeError("--device cuda was asked for, but torch sees no CUDA GPU.")
        entry = resolve(name, models_dir)
        model = load_model(entry, device)
        model.set_precision(model.default_precision(device) if precision == "auto" else precision)
        return cls(model, device, entry)

    @property
    def name(self) -> str:
        return self.model.name

    @property
    def genres(self) -> list[Genre]:
        return self.model.genres

    def load_audio(self, source, *, sr: int | None = None, offset_s: float = 0.0,
                   duration_s: float | None = DEFAULT_DURATION_S,
                   max_duration_s: float | None = None) -> Audio:
        """Decode a path, or take an array (with its ``sr``), at the model's rate
        (``max_duration_s``: refuse longer windows, see :func:`~genrescope.audio.load_audio`)."""
        if isinstance(source, (str, os.PathLike)):
            return load_audio(source, self.model.sr, offset_s=offset_s, duration_s=duration_s,
                              max_duration_s=max_duration_s)
        if sr is None:
            raise GenrescopeError("An array needs its sample rate: classify(y, sr=...).")
        return audio_from_array(source, sr, self.model.sr, offset_s=offset_s,
                                duration_s=duration_s, max_duration_s=max_duration_s)

    def _network(self, forward, inputs: torch.Tensor) -> np.ndarray:
        """``forward`` over ``inputs`` in batches of :data:`NETWORK_BATCH` chunks:
        memory stays flat whatever the length of the audio."""
        out = []
        with torch.inference_mode():
            for start in range(0, max(len(inputs), 1), NETWORK_BATCH):
                batch = inputs[start:start + NETWORK_BATCH].to(self.device)
                result = forward(batch)
                out.append(tuple(t.float().cpu().numpy() for t in result)
                           if isinstance(result, tuple) else result.float().cpu().numpy())
        if isinstance(out[0], tuple):        # several outputs (scores_and_embed)
            return tuple(np.concatenate(parts) for parts in zip(*out))
        return np.concatenate(out) if len(out) != 1 else out[0]

    def classify(self, source, *, sr: int | None = None, offset_s: float = 0.0,
                 duration_s: float | None = DEFAULT_DURATION_S, top_k: int = 5,
                 max_duration_s: float | None = None, embed: bool = False) -> Prediction:
        """Classify a file or an array.

        Parameters
        ----------
        source : str, PathLike or np.ndarray
            An audio file, or samples (1-D, or 2-D with channels on the shorter axis).
        sr : int, optional
            Sample rate of ``source`` when it is an array.
        offset_s : float
            Where the analysed window starts, in seconds.
        duration_s : float or None
            How many seconds to analyse (default 30); ``None`` or 0: to the end.
        top_k : int
            How many genres :attr:`Prediction.top` holds.
        max_duration_s : float, optional
            Refuse (:class:`GenrescopeError`, 422) a window longer than this;
            "to the end" decodes no further than the limit (a server's cap).
        embed : bool
            Also set :attr:`Prediction.embedding`, from the same network pass
            where the model allows (the library indexer).

        Returns
        -------
        Prediction
        """
        t0 = time.perf_counter()
        audio = self.load_audio(source, sr=sr, offset_s=offset_s, duration_s=duration_s,
                                max_duration_s=max_duration_s)
        t1 = time.perf_counter()
        features = self.model.features(audio.y)
        t2 = time.perf_counter()
        if embed:
            chunk_scores, chunk_embeddings = self._network(self.model.scores_and_embed,
                                                           features.inputs)
        else:
            chunk_scores = self._network(self.model.scores, features.inputs)
        t3 = time.perf_counter()
        prediction = self._predict(chunk_scores, features, audio, top_k)
        if embed:
            prediction.embedding = chunk_embeddings.mean(axis=0)
        prediction.source = os.fspath(source) if isinstance(source, (str, os.PathLike)) else None
        prediction.timings = {"decode": t1 - t0, "features": t2 - t1, "network": t3 - t2,
                              "total": time.perf_counter() - t0}
        return prediction

    def explain(self, source, *, sr: int | None = None, offset_s: float = 0.0,
                duration_s: float | None = DEFAULT_DURATION_S, genre: str | None = None,
                budget: int | None = None):
        """Why the model said a genre: an occlusion map over the spectrogram.

        See :func:`genrescope.explain.explain` (``genre``: id, English or
        Chinese name, default the top one; ``budget``: most forward passes,
        default :data:`genrescope.explain.DEFAULT_BUDGET` or one per chunk).

        Returns
        -------
        genrescope.explain.Explanation
            ``heat`` (bands x time cells), its axes ``time_s`` and ``freq_hz``,
            and the ``prediction`` it explains.
        """
        from .explain import explain

        return explain(self, source, sr=sr, offset_s=offset_s, duration_s=duration_s,
                       genre=genre, budget=budget)

    def warm_up(self, duration_s: float = 1.0) -> None:
        """Classify ``duration_s`` of synthesised audio and discard the answer.

        Pays now the one-off costs of a first analysis in this process (lazy
        imports, colour tables, the network's first-call set-up), so that the
        first real request (a server's first page answer) is as fast as later
        ones. The server calls it once at start.
        """
        from .synth import chord

        self.classify(chord(duration_s, self.model.sr), sr=self.model.sr, duration_s=None)

    def embed(self, source, *, sr: int | None = None, offset_s: float = 0.0,
              duration_s: float | None = DEFAULT_DURATION_S) -> np.ndarray:
        """The clip-level embedding: per-chunk embeddings averaged (float32, 1-D)."""
        audio = self.load_audio(source, sr=sr, offset_s=offset_s, duration_s=duration_s)
        return self.embed_audio(audio)

    def embed_audio(self, audio: Audio) -> np.ndarray:
        """:meth:`embed` for audio already decoded at the model's rate."""
        features = self.model.features(audio.y)
        chunks = self._network(self.model.embed, features.inputs)
        return chunks.mean(axis=0)

    def _predict(self, chunk_scores: np.ndarray, features: Features, audio: Audio,
                 top_k: int) -> Prediction:
        extras = self.model.extras                      # side outputs after the labels
        side = chunk_scores[:, -len(extras):] if extras else None
        if extras:
            chunk_scores = chunk_scores[:, :-len(extras)]
        mean = clip_scores(chunk_scores, normalise=self.model.normalise)
        genres = self.model.genres
        order = np.argsort(-mean, kind="stable")[:max(1, top_k)]
        top = [GenreScore(genres[i], float(mean[i])) for i in order]
        votes = Counter(int(i) for i in chunk_scores.argmax(axis=1))
        winner, count = max(votes.items(), key=lambda kv: (kv[1], mean[kv[0]]))
        warnings = quality_warnings(audio)
        not_music = float(side[:, extras.index("not_music")].mean()) \
            if "not_music" in extras else None
        warnings += model_notes(self.model.config, top[0].probability, not_music)
        styles = []                                   # none for what is not music
        if extras and not any(w.code == "not_music" for w in warnings):
            styles = [GenreScore(g, p) for g, p in self.model.styles(
                dict(zip(extras, side.mean(axis=0).tolist())))]
        return Prediction(
            model=self.model.name,
            genres=genres,
            top=top,
            probabilities={g.id: float(p) for g, p in zip(genres, mean)},
            chunk_probabilities=chunk_scores,
            majority=GenreScore(genres[winner], count / len(chunk_scores)),
            features=features,
            audio=audio,
            warnings=warnings,
            styles=styles,
            precision=self.model.precision,
            score="probability" if self.model.normalise else "tags",
            timeline=build_timeline(chunk_scores, features.chunks, features.frame_rate_hz, genres,
                                    offset_s=audio.offset_s, duration_s=audio.duration_s,
                                    normalise=self.model.normalise),
        )
