"""The one entry point: load a model once, classify files or arrays.

>>> from genrescope import Classifier
>>> clf = Classifier.load()                          # the shipped default model
>>> pred = clf.classify("song.mp3")                  # doctest: +SKIP
>>> [(g.name("en"), round(g.probability, 3)) for g in pred.top]  # doctest: +SKIP
"""

from __future__ import annotations

import os
import threading
import time
from collections import Counter
from contextlib import ExitStack, contextmanager

import numpy as np
import torch

from .audio import Audio, at_rate, audio_from_array, load_audio, quality_warnings
from .context import companion_inputs, context_block
from .decode import Decoder
from .errors import GenrescopeError
from .features import Features
from .labels import Genre
from .models.base import Model
from .models.registry import ModelEntry, load_model, resolve
from .prediction import GenreScore, Prediction  # noqa: F401 (Prediction: its home before)
from .timeline import build_timeline
from .track import clip_scores, hearing_of, model_notes, outside_genre

_THREADS = threading.Lock()


@contextmanager
def one_cpu_thread(device: str):
    """Torch on one thread inside (CPU only; restored after, one holder at a
    time). For small networks: the default's AudioSet companion (mn04, one
    10 s input) took median 0.023 s on one thread and 0.177 s on two on this
    2-core machine (thread hand-offs cost more than its work)."""
    if not device.startswith("cpu"):
        yield
        return
    with _THREADS:
        before = torch.get_num_threads()
        torch.set_num_threads(1)
        try:
            yield
        finally:
            torch.set_num_threads(before)


def _per_chunk(blocks: list, n_chunks: list[int]) -> np.ndarray | None:
    """Each window's context block repeated for each of its chunks (None
    when the model reads no block)."""
    if not blocks or blocks[0] is None:
        return None
    return np.concatenate([np.repeat(b[None], n, 0) for b, n in zip(blocks, n_chunks)])


DEFAULT_DURATION_S = 30.0
#: Chunks per network call: peak memory is that of one batch, whatever the length.
NETWORK_BATCH = 8


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

    @property
    def decode_sr(self) -> int:
        """The rate :meth:`classify` decodes files at: the model's, or its
        companion's when higher (the default: 32 kHz for AudioSet, resampled to
        16 kHz for its own networks, which changes their probabilities by at
        most 2e-4; decoding at 16 kHz would take 8-16 kHz from the companion).
        An array is resampled from its own samples to each rate."""
        hearing = self.model.hearing
        return self.model.sr if hearing is None else max(self.model.sr, hearing.sr)

    def load_audio(self, source, *, sr: int | None = None, offset_s: float = 0.0,
                   duration_s: float | None = DEFAULT_DURATION_S,
                   max_duration_s: float | None = None, rate: int | None = None,
                   decoder=None) -> Audio:
        """Decode a path, or take an array (with its ``sr``), at ``rate`` (default
        the model's; ``max_duration_s``: refuse longer windows; ``decoder``: the
        path already open, see :func:`~genrescope.audio.load_audio`)."""
        rate = rate or self.model.sr
        if isinstance(source, (str, os.PathLike)):
            return load_audio(source, rate, offset_s=offset_s, duration_s=duration_s,
                              max_duration_s=max_duration_s, decoder=decoder)
        if sr is None:
            raise GenrescopeError("An array needs its sample rate: classify(y, sr=...).")
        return audio_from_array(source, sr, rate, offset_s=offset_s,
                                duration_s=duration_s, max_duration_s=max_duration_s)

    def _network(self, forward, inputs: torch.Tensor,
                 context: np.ndarray | None = None) -> np.ndarray:
        """``forward`` over ``inputs`` in batches of :data:`NETWORK_BATCH` chunks:
        memory stays flat whatever the length of the audio. ``context``: one
        row per chunk (each chunk's window block, :mod:`genrescope.context`),
        passed beside its chunk as ``forward(batch, context=rows)``."""
        out = []
        with torch.inference_mode():
            for start in range(0, max(len(inputs), 1), NETWORK_BATCH):
                batch = inputs[start:start + NETWORK_BATCH].to(self.device)
                if context is None:
                    result = forward(batch)
                else:
                    rows = torch.from_numpy(context[start:start + NETWORK_BATCH])
                    result = forward(batch, context=rows.to(self.device))
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
        decoded, audio = self._decode(source, sr=sr, offset_s=offset_s, duration_s=duration_s,
                                      max_duration_s=max_duration_s)
        t1 = time.perf_counter()
        heard_scores, block = self._hear(decoded)     # first: the head may read its block
        t2 = time.perf_counter()
        features = self.model.features(audio.y)
        t3 = time.perf_counter()
        context = _per_chunk([block], [len(features.inputs)])
        if embed:
            chunk_scores, chunk_embeddings = self._network(self.model.scores_and_embed,
                                                           features.inputs, context)
        else:
            chunk_scores = self._network(self.model.scores, features.inputs, context)
        t4 = time.perf_counter()
        prediction = self._predict(chunk_scores, features, audio, top_k, heard_scores, block)
        if embed:
            prediction.embedding = chunk_embeddings.mean(axis=0)
        prediction.source = os.fspath(source) if isinstance(source, (str, os.PathLike)) else None
        prediction.timings = {"decode": t1 - t0, "features": t3 - t2, "network": t4 - t3,
                              **({"hearing": t2 - t1} if heard_scores is not None else {}),
                              "total": time.perf_counter() - t0}
        return prediction

    def classify_windows(self, source, windows: list[tuple[float, float | None]], *,
                         top_k: int = 5) -> list[Prediction]:
        """``classify(source, offset_s=o, duration_s=d, top_k=top_k, embed=True)``
        for each ``(o, d)`` of ``windows`` (each decoded on its own, seeking,
        and heard on its own: a head's context block comes from its window),
        with all windows' chunks through the network in one batched pass (the
        library's indexer: a few short windows of each track)."""
        with ExitStack() as stack:
            decoder = stack.enter_context(Decoder(os.fspath(source))) \
                if isinstance(source, (str, os.PathLike)) else None
            decoded = [self._decode(source, offset_s=o, duration_s=d, decoder=decoder)
                       for o, d in windows]
        heard = self._hear_each([heard_from for heard_from, _ in decoded])
        features = [self.model.features(audio.y) for _, audio in decoded]
        context = _per_chunk([block for _, block in heard], [len(f.inputs) for f in features])
        scores, embeddings = self._network(self.model.scores_and_embed,
                                           torch.cat([f.inputs for f in features]), context)
        preds, start = [], 0
        for (_, audio), feats, (heard_scores, block) in zip(decoded, features, heard):
            end = start + len(feats.inputs)
            pred = self._predict(scores[start:end], feats, audio, top_k, heard_scores, block)
            pred.embedding = embeddings[start:end].mean(axis=0)
            pred.source = os.fspath(source) if isinstance(source, (str, os.PathLike)) else None
            preds.append(pred)
            start = end
        return preds

    def _decode(self, source, **window) -> tuple[Audio, Audio]:
        """The window decoded once at :attr:`decode_sr` (for the companion) and
        at the model's rate (a file: resampled from that decode; an array: each
        rate from its own samples)."""
        if isinstance(source, (str, os.PathLike)):
            decoded = self.load_audio(source, **window, rate=self.decode_sr)
            return decoded, at_rate(decoded, self.model.sr)
        window.pop("decoder", None)
        audio = decoded = self.load_audio(source, **window)
        if self.decode_sr != self.model.sr:
            decoded = self.load_audio(source, **window, rate=self.decode_sr)
        return decoded, audio

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
        if self.model.context is not None:    # the block hears the window at the companion's rate
            return self.classify(source, sr=sr, offset_s=offset_s, duration_s=duration_s,
                                 embed=True).embedding
        audio = self.load_audio(source, sr=sr, offset_s=offset_s, duration_s=duration_s)
        return self.embed_audio(audio)

    def embed_audio(self, audio: Audio) -> np.ndarray:
        """:meth:`embed` for audio already decoded at the model's rate (a model
        with a context block hears it resampled to its companion's rate)."""
        features = self.model.features(audio.y)
        block = self._hear(audio)[1] if self.model.context is not None else None
        context = _per_chunk([block], [len(features.inputs)])
        chunks = self._network(self.model.embed, features.inputs, context)
        return chunks.mean(axis=0)

    def _hear(self, decoded: Audio) -> tuple[np.ndarray | None, np.ndarray | None]:
        """The companion's per-chunk scores on the middle ``hearing.max_seconds``
        of the decoded window (None without a companion), and the model's
        context block from the same pass (None unless the model reads one)."""
        return self._hear_each([decoded])[0]

    def _hear_each(self, decoded: list[Audio]) -> list[tuple]:
        """:meth:`_hear` of several windows, their chunks in one network call
        when they have the same length (the indexer's windows); each window's
        block from its own chunks."""
        companion = self.model.hearing
        if companion is None:
            return [(None, None)] * len(decoded)
        seconds = self.model.config.hearing.max_seconds
        inputs = [companion_inputs(companion, window, seconds) for window in decoded]
        spec = self.model.context
        forward = companion.scores if spec is None else companion.scores_and_embed
        with one_cpu_thread(self.device):
            if len({x.shape[1:] for x in inputs}) != 1:
                outs = [self._network(forward, x) for x in inputs]
            else:
                out = self._network(forward, torch.cat(inputs))
                cuts = np.cumsum([len(x) for x in inputs])[:-1]
                outs = list(np.split(out, cuts)) if spec is None else \
                    list(zip(*(np.split(part, cuts) for part in out)))
        if spec is None:
            return [(scores, None) for scores in outs]
        return [(scores, context_block(spec, companion, scores, emb)) for scores, emb in outs]

    def _predict(self, chunk_scores: np.ndarray, features: Features, audio: Audio,
                 top_k: int, heard_scores: np.ndarray | None = None,
                 block: np.ndarray | None = None) -> Prediction:
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
        side_scores = dict(zip(extras, side.mean(axis=0).tolist())) if extras else {}
        hearing = outside = None
        if heard_scores is not None:
            companion = self.model.hearing
            hearing, as_mean = hearing_of(companion, heard_scores)
            outside = outside_genre(self.model.config.hearing, as_mean,
                                    lambda k: companion.genres[companion.labels.index(k)],
                                    side_scores)
            side_scores |= {f"audioset:{k}": v for k, v in as_mean.items()}
        warnings += model_notes(self.model.config, top[0].probability,
                                side_scores.get("not_music"), hearing, outside)
        styles, heard = [], []                        # none for what is not music
        if not any(w.code == "not_music" for w in warnings):
            styles = [GenreScore(g, p) for g, p in self.model.styles(side_scores)] \
                if extras else []
            heard = list(hearing.heard) if hearing is not None else []
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
            heard=heard,
            sound=None if hearing is None else hearing.kind,
            side_scores=side_scores,
            context=block,
            precision=self.model.precision,
            score="probability" if self.model.normalise else "tags",
            timeline=build_timeline(chunk_scores, features.chunks, features.frame_rate_hz, genres,
                                    offset_s=audio.offset_s, duration_s=audio.duration_s,
                                    normalise=self.model.normalise),
        )
