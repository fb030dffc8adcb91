"""Nearest tracks, why they are near, and playlists: numpy on the embeddings.

Exact cosine search: the embeddings are L2-normalised once (rows of a float32
matrix) and a query is one matrix-vector product plus ``argpartition``.
``benchmarks/bench_library.py`` measures it at 100 000 and 1 000 000 tracks.
"""

from __future__ import annotations

import numpy as np

#: Points along a track at which two timelines are compared.
TIMELINE_POINTS = 8
#: A genre two tracks share, for a similar track's reason: this probable in both.
SHARED_MIN_P = 0.15
#: Embedding cosine similarity from which two tracks "sound very alike",
#: "sound alike", "sound somewhat alike" (below: "a little alike").
SOUND_LEVELS = (0.9, 0.8, 0.6)


def normalise_rows(matrix: np.ndarray) -> np.ndarray:
    """Rows scaled to unit length (zero rows stay zero), float32."""
    m = np.asarray(matrix, dtype=np.float32)
    norms = np.linalg.norm(m, axis=-1, keepdims=True)
    return m / np.where(norms > 0, norms, 1.0)


def nearest(unit: np.ndarray, query: np.ndarray, k: int, exclude=()) -> list[tuple[int, float]]:
    """Indices and cosine similarities of the ``k`` rows nearest ``query``.

    Parameters
    ----------
    unit : np.ndarray
        (N, D) unit-length rows (:func:`normalise_rows`).
    query : np.ndarray
        (D,) vector (any length).
    k : int
    exclude : iterable of int
        Row indices never returned.
    """
    q = normalise_rows(query[None, :])[0]
    sims = unit @ q
    exclude = list(exclude)
    if exclude:
        sims[exclude] = -np.inf
    k = min(k, len(sims) - len(exclude))
    if k <= 0:
        return []
    idx = np.argpartition(-sims, k - 1)[:k] if k < len(sims) else np.arange(len(sims))
    idx = idx[np.argsort(-sims[idx], kind="stable")]
    return [(int(i), float(sims[i])) for i in idx if np.isfinite(sims[i])]


def genre_overlap(p: np.ndarray, q: np.ndarray) -> float:
    """Histogram intersection of two genre distributions (1 = the same mix)."""
    p, q = _dist(p), _dist(q)
    return float(np.minimum(p, q).sum())


def shared_genres(p: np.ndarray, q: np.ndarray, labels, min_p: float = SHARED_MIN_P) -> list:
    """Labels at least ``min_p`` probable in both genre distributions, the
    most shared first (a genre near 0 % in one track is never "shared")."""
    p, q = _dist(p), _dist(q)
    both = np.minimum(p, q)
    return [labels[i] for i in np.argsort(-both, kind="stable") if both[i] >= min_p]


def sound_level(similarity: float) -> int:
    """0 (very alike) to 3 (a little alike): :data:`SOUND_LEVELS` of a cosine."""
    return next((k for k, floor in enumerate(SOUND_LEVELS) if similarity >= floor),
                len(SOUND_LEVELS))


def timeline_similarity(a: list[dict], b: list[dict]) -> float | None:
    """How alike two genre timelines are (1 = the same genre mix at the same
    relative places), the mean :func:`genre_overlap` at
    :data:`TIMELINE_POINTS` evenly spread positions; ``None`` if one is empty."""
    if not a or not b:
        return None
    ca, cb = _resample(a), _resample(b)
    return float(np.mean([genre_overlap(x, y) for x, y in zip(ca, cb)]))


def _resample(timeline: list[dict]) -> np.ndarray:
    centres = np.array([(c["start_s"] + c["end_s"]) / 2 for c in timeline])
    probs = np.array([c["p"] for c in timeline], dtype=np.float64)
    span = centres.max() - centres.min()
    rel = (centres - centres.min()) / span if span > 0 else np.zeros_like(centres)
    at = np.linspace(0, 1, TIMELINE_POINTS)
    nearest_chunk = np.abs(rel[None, :] - at[:, None]).argmin(axis=1)
    return probs[nearest_chunk]


def _dist(p: np.ndarray) -> np.ndarray:
    p = np.clip(np.asarray(p, dtype=np.float64), 0, None)
    s = p.sum()
    return p / s if s > 0 else p


def sonic_path(unit: np.ndarray, start: int, end: int, length: int,
               continuity: float = 0.3) -> list[int]:
    """Row indices of a path from ``start`` to ``end``, ``length`` tracks, no repeats.

    Step i aims at the point ``i / (length - 1)`` of the way between the two
    embeddings (normalised linear interpolation) and takes the unused track
    nearest to it, with a bonus of ``continuity`` x the cosine to the track
    before, so that neighbours also sound alike.
    """
    length = max(2, min(length, len(unit)))
    if start == end:
        raise ValueError("start and end are the same track")
    path, used = [start], {start, end}
    for i in range(1, length - 1):
        t = i / (length - 1)
        target = normalise_rows(((1 - t) * unit[start] + t * unit[end])[None, :])[0]
        score = unit @ target + continuity * (unit @ unit[path[-1]])
        score[list(used)] = -np.inf
        best = int(np.argmax(score))
        if not np.isfinite(score[best]):
            break
        path.append(best)
        used.add(best)
    return path + [end]


def around_seeds(unit: np.ndarray, seeds: list[int], length: int) -> list[int]:
    """A playlist of ``length`` tracks around several seeds, no repeats.

    Takes the seeds and the tracks most similar to any seed (max cosine),
    then orders them as a chain: from the first seed, always the nearest
    track not yet played.
    """
    seeds = list(dict.fromkeys(seeds))
    length = max(len(seeds), min(length, len(unit)))
    score = (unit @ unit[seeds].T).max(axis=1)
    score[seeds] = -np.inf
    extra = np.argsort(-score, kind="stable")[:length - len(seeds)]
    pool = seeds[1:] + [int(i) for i in extra]
    order = [seeds[0]]
    while pool:
        sims = unit[pool] @ unit[order[-1]]
        order.append(pool.pop(int(np.argmax(sims))))
    return order
