"""When each genre is heard: per-chunk scores with their times, and the
segments where the leading genre changes.

A model scores its input chunk by chunk (musicnn: 3 s log-mel patches; the
ccmusic VGG models: 11.4 s CQT images, see :func:`~genrescope.features.chunk_frames`).
:func:`build_timeline` gives every chunk its place in the analysed window,
computed from the front end's frame ranges (``Features.chunks`` and
``Features.frame_rate_hz``), and :meth:`Timeline.segments` merges neighbouring
chunks with the same leading genre, so that a one-chunk flicker is not a change.

>>> import numpy as np
>>> from genrescope.labels import genre
>>> scores = np.array([[.9, .1], [.8, .2], [.3, .7], [.9, .1], [.2, .8], [.1, .9], [.2, .8]])
>>> tl = Timeline([genre("jazz"), genre("rock")], [TimelineChunk(3.0 * i, 3.0 * i + 3, p, 3.0 * i,
...               3.0 * i + 3) for i, p in enumerate(scores)], 0.0, 21.0)
>>> [(s.start_s, s.end_s, s.genre.id) for s in tl.segments()]
[(0.0, 12.0, 'jazz'), (12.0, 21.0, 'rock')]
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from .labels import Genre

#: Runs of fewer chunks than this are absorbed by a neighbour (a flicker).
MIN_SEGMENT_CHUNKS = 2


@dataclass(frozen=True)
class TimelineChunk:
    """One analysed chunk (musicnn patch, VGG image) and its genre scores.

    Attributes
    ----------
    start_s, end_s : float
        The chunk's share of the analysed window, in seconds of the source
        file. Consecutive chunks meet (the boundary lies where one chunk's
        input ends and the next one's begins, or half-way across an overlap);
        the first starts at the window's start and the last ends at its end,
        so the chunks tile the window exactly.
    probabilities : np.ndarray
        Score of each label (the model's label order), rescaled to sum to 1
        when the model's clip scores are (see ``Model.normalise``).
    input_start_s, input_end_s : float
        The span the model's input actually covered, clipped to the window
        (the VGG front end leaves a few seconds at both ends unanalysed;
        musicnn drops the frames that do not fill a last patch).
    """

    start_s: float
    end_s: float
    probabilities: np.ndarray
    input_start_s: float
    input_end_s: float

    @property
    def duration_s(self) -> float:
        return self.end_s - self.start_s

    @property
    def leading(self) -> int:
        """Index of the label with the highest score."""
        return int(np.argmax(self.probabilities))


@dataclass(frozen=True)
class Segment:
    """A stretch of the window with one leading genre.

    Attributes
    ----------
    start_s, end_s : float
        Seconds in the source file.
    genre : Genre
        The leading genre.
    probability : float
        Mean score of ``genre`` over the segment's chunks.
    n_chunks : int
        Chunks merged into the segment.
    """

    start_s: float
    end_s: float
    genre: Genre
    probability: float
    n_chunks: int

    def to_dict(self, lang: str = "en") -> dict:
        return {"start_s": round(self.start_s, 3), "end_s": round(self.end_s, 3),
                "label": self.genre.id, "name": self.genre.name(lang),
                "probability": round(self.probability, 4), "n_chunks": self.n_chunks}


@dataclass(frozen=True)
class Timeline:
    """Genre scores over time for one analysed window.

    Attributes
    ----------
    genres : list of Genre
        The model's labels, in the order of ``TimelineChunk.probabilities``.
    chunks : list of TimelineChunk
        In time order; they tile ``[start_s, end_s]``.
    start_s, end_s : float
        The analysed window, in seconds of the source file.
    """

    genres: list
    chunks: list
    start_s: float
    end_s: float

    @property
    def probabilities(self) -> np.ndarray:
        """(n_chunks, n_labels) scores, one row per chunk."""
        return np.stack([c.probabilities for c in self.chunks])

    def segments(self, min_chunks: int = MIN_SEGMENT_CHUNKS) -> list[Segment]:
        """Merged stretches of one leading genre.

        Neighbouring chunks with the same leading genre form a run. A run of
        fewer than ``min_chunks`` chunks (a flicker) is absorbed by the
        neighbouring run whose genre scores higher in it, shortest runs
        first; then equal neighbours merge. With fewer than 3 chunks there is
        nothing to compare a flicker with, and every change is kept.

        Returns
        -------
        list of Segment
            In time order, tiling the window.
        """
        if not self.chunks:
            return []
        probs = self.probabilities
        labels = probs.argmax(axis=1).tolist()
        runs = _runs(labels)
        while len(self.chunks) >= 3 and len(runs) > 1:
            short = [i for i, (_, a, b) in enumerate(runs) if b - a < min_chunks]
            if not short:
                break
            i = min(short, key=lambda k: (runs[k][2] - runs[k][1], k))
            _, a, b = runs[i]
            options = [runs[j][0] for j in (i - 1, i + 1) if 0 <= j < len(runs)]
            best = max(options, key=lambda g: probs[a:b, g].mean())
            labels[a:b] = [best] * (b - a)
            runs = _runs(labels)
        return [Segment(self.chunks[a].start_s, self.chunks[b - 1].end_s, self.genres[g],
                        float(probs[a:b, g].mean()), b - a) for g, a, b in runs]

    def describe(self, lang: str = "en") -> str:
        """The segments as text: ``"0:00-1:12 Jazz, 1:12-2:40 Rock"``."""
        return ", ".join(f"{clock(s.start_s)}-{clock(s.end_s)} {s.genre.name(lang)}"
                         for s in self.segments())

    def to_dict(self, lang: str = "en") -> dict:
        """JSON-ready: the window, label ids, every chunk's scores, the segments."""
        return {
            "start_s": round(self.start_s, 3), "end_s": round(self.end_s, 3),
            "labels": [g.id for g in self.genres],
            "chunks": [{"start_s": round(c.start_s, 3), "end_s": round(c.end_s, 3),
                        "input_start_s": round(c.input_start_s, 3),
                        "input_end_s": round(c.input_end_s, 3),
                        "probabilities": [round(float(p), 4) for p in c.probabilities]}
                       for c in self.chunks],
            "segments": [s.to_dict(lang) for s in self.segments()],
        }


def build_timeline(chunk_scores: np.ndarray, chunks: list, frame_rate_hz: float,
                   genres: list, *, offset_s: float, duration_s: float,
                   normalise: bool = False) -> Timeline:
    """Place each chunk's scores in the analysed window.

    Parameters
    ----------
    chunk_scores : np.ndarray
        (n_chunks, n_labels) per-chunk scores, as the model gave them.
    chunks : list of (int, int)
        Frame range of each chunk (``Features.chunks``), frames counted from
        the window's start.
    frame_rate_hz : float
        Frames per second of those ranges (``Features.frame_rate_hz``).
    genres : list of Genre
    offset_s, duration_s : float
        Where the analysed window starts in the source, and its length.
    normalise : bool
        Rescale each chunk's scores to sum to 1 (tag models whose clip
        scores are shown as relative confidence).

    Returns
    -------
    Timeline
    """
    scores = np.asarray(chunk_scores, dtype=np.float64)
    if normalise:
        sums = scores.sum(axis=1, keepdims=True)
        scores = np.divide(scores, sums, out=scores.copy(), where=sums > 0)
    n = len(scores)
    spans = np.asarray(chunks if chunks else [(0, 0)] * n, dtype=np.float64).reshape(-1, 2)
    if len(spans) != n or frame_rate_hz <= 0:          # no frame ranges: equal shares
        spans = np.stack([np.arange(n), np.arange(1, n + 1)], axis=1) * (duration_s / max(n, 1))
        frame_rate_hz = 1.0
    seen = np.clip(spans / frame_rate_hz, 0.0, duration_s)
    inner = (seen[:-1, 1] + seen[1:, 0]) / 2            # where one chunk hands over to the next
    edges = np.concatenate([[0.0], np.maximum.accumulate(inner), [duration_s]])
    edges = np.clip(edges, 0.0, duration_s) + offset_s
    seen = seen + offset_s
    items = [TimelineChunk(float(edges[i]), float(edges[i + 1]), scores[i].astype(np.float32),
                           float(seen[i, 0]), float(seen[i, 1])) for i in range(n)]
    return Timeline(list(genres), items, float(offset_s), float(offset_s + duration_s))


def clock(seconds: float) -> str:
    """``m:ss`` (``h:mm:ss`` from an hour on)."""
    total = int(round(seconds))
    h, rest = divmod(total, 3600)
    m, s = divmod(rest, 60)
    return f"{h}:{m:02d}:{s:02d}" if h else f"{m}:{s:02d}"


def _runs(labels: list) -> list[tuple[int, int, int]]:
    """(label, start, stop) of each run of equal neighbours."""
    runs, start = [], 0
    for i in range(1, len(labels) + 1):
        if i == len(labels) or labels[i] != labels[start]:
            runs.append((labels[start], start, i))
            start = i
    return runs
