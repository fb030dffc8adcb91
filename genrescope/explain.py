"""Why the model said so: occlusion maps over the model's own input.

Each analysed chunk's input (musicnn: a log-mel patch, time x mel bands;
VGG: the CQT picture, pitch rows x time columns) is cut into a grid of
time-frequency cells. One cell at a time is silenced (set to the quietest
value of that chunk's input) and the network runs again; how much the
genre's probability in that chunk drops is the cell's heat. This needs no
gradients, so it works for every model family, and its cost is exactly one
forward pass per cell: the ``budget`` bounds the number of passes.

>>> from genrescope import Classifier                       # doctest: +SKIP
>>> why = Classifier.load().explain("song.mp3")             # doctest: +SKIP
>>> why.heat.shape, why.time_s[0], why.freq_hz[-1]          # doctest: +SKIP
((6, 10), array([0.   , 2.992]), array([4713.8, 8000. ]))
"""

from __future__ import annotations

import time
from dataclasses import dataclass, field, replace
from typing import TYPE_CHECKING, Any

import librosa
import numpy as np
import torch

from .errors import GenrescopeError
from .features import Features
from .labels import Genre

if TYPE_CHECKING:
    from .models.base import Model

#: Forward passes an explanation may use unless told otherwise. On the default
#: model (musicnn_genres, ~70 ms a patch on 2 CPU cores) a 30 s clip (10
#: patches) then costs about 4 s; see benchmarks/bench_explain.py.
DEFAULT_BUDGET = 60
#: The most forward passes one explanation may be given (server bound).
MAX_BUDGET = 4000
#: Most frequency bands of the grid.
MAX_BANDS = 24
#: Occluded inputs run through the network in batches of this size (bounds memory).
BATCH_SIZE = 16


@dataclass(frozen=True)
class Explanation:
    """An occlusion map for one genre over the analysed window.

    Attributes
    ----------
    genre : Genre
        The genre explained.
    probability : float
        Its probability for the whole window (as in the prediction).
    heat : np.ndarray
        (n_bands, n_cells) float32: drop of the genre's probability in the
        chunk holding the cell when the cell is silenced (0.25 = 25
        percentage points). Positive: the cell made the model say the
        genre; negative: it spoke against it. Low bands first.
    time_s : np.ndarray
        (n_cells, 2) start and end of each time cell, seconds of the source file.
    freq_hz : np.ndarray
        (n_bands, 2) lowest and highest frequency of each band in Hz.
    rows : np.ndarray
        (n_bands, 2) the bands as (fractional) rows of ``Features.spec_db``,
        for drawing over the spectrogram.
    chunk_index : np.ndarray
        (n_cells,) the chunk each time cell belongs to.
    kind : {"cqt", "mel"}
        What the spectrogram's rows are (CQT: notes; mel: Hz).
    n_passes : int
        Forward passes it took (``<= budget``).
    budget : int
        Forward passes it was allowed.
    seconds : float
        Wall time it took.
    prediction : Prediction or None
        The prediction explained (its spectrogram is what the map is drawn on).
    """

    genre: Genre
    probability: float
    heat: np.ndarray
    time_s: np.ndarray
    freq_hz: np.ndarray
    rows: np.ndarray
    chunk_index: np.ndarray
    kind: str
    n_passes: int
    budget: int
    seconds: float = 0.0
    prediction: Any = field(default=None, repr=False, compare=False)

    @property
    def notes(self) -> list[tuple[str, str]]:
        """(lowest, highest) note name of each band (``"C4"``, ``"A♯5"``)."""
        return [(librosa.hz_to_note(lo), librosa.hz_to_note(hi)) for lo, hi in self.freq_hz]

    def peak(self) -> tuple[int, int]:
        """(band, cell) of the largest heat."""
        band, cell = np.unravel_index(int(np.argmax(self.heat)), self.heat.shape)
        return int(band), int(cell)

    def to_dict(self, lang: str = "en") -> dict:
        """JSON-ready: the map as numbers with its axes."""
        band, cell = self.peak()
        return {
            "label": self.genre.id, "name": self.genre.name(lang),
            "probability": round(self.probability, 6),
            "method": "occlusion",
            "value": "drop of the genre's probability in the chunk when the cell is silenced",
            "heat": np.round(self.heat.astype(np.float64), 5).tolist(),
            "time_s": np.round(self.time_s, 3).tolist(),
            "freq_hz": np.round(self.freq_hz, 1).tolist(),
            "notes": [list(n) for n in self.notes] if self.kind == "cqt" else None,
            "chunk_index": self.chunk_index.tolist(),
            "peak": {"band": band, "cell": cell, "heat": round(float(self.heat[band, cell]), 5),
                     "time_s": np.round(self.time_s[cell], 3).tolist(),
                     "freq_hz": np.round(self.freq_hz[band], 1).tolist()},
            "n_passes": self.n_passes, "budget": self.budget,
            "seconds": round(self.seconds, 3),
        }


def explain(classifier, source, *, sr: int | None = None, offset_s: float = 0.0,
            duration_s: float | None = 30.0, genre: str | None = None,
            budget: int | None = None, max_duration_s: float | None = None) -> Explanation:
    """Classify ``source`` and explain one genre of the answer.

    Parameters
    ----------
    classifier : Classifier
        A loaded classifier (its model and device are used).
    source : str, PathLike or np.ndarray
        As for :meth:`Classifier.classify` (``sr`` with an array).
    offset_s, duration_s : float
        The analysed window (default: the first 30 s).
    genre : str, optional
        Label id, English or Chinese name; default: the top genre.
    budget : int, optional
        Most forward passes (1 to :data:`MAX_BUDGET`), at least one per
        analysed chunk. Default: :data:`DEFAULT_BUDGET`, or one pass per
        chunk when the window has more chunks than that.
    max_duration_s : float, optional
        Refuse a longer window (a server's cap; see :meth:`Classifier.classify`).

    Returns
    -------
    Explanation
        With ``prediction`` set: the classification it explains.
    """
    if budget is not None:
        _check_budget(budget)
    prediction = classifier.classify(source, sr=sr, offset_s=offset_s, duration_s=duration_s,
                                     max_duration_s=max_duration_s)
    return explain_prediction(classifier, prediction, genre=genre, budget=budget)


def explain_prediction(classifier, prediction, *, genre: str | None = None,
                       budget: int | None = None) -> Explanation:
    """Explain one genre of a :class:`~genrescope.predict.Prediction` made by
    ``classifier`` (its features and chunk scores are reused). ``budget`` as
    for :func:`explain`.

    Returns
    -------
    Explanation
        With ``prediction`` set.
    """
    if budget is None:
        budget = min(MAX_BUDGET, max(DEFAULT_BUDGET, len(prediction.chunk_probabilities)))
    _check_budget(budget)
    index = find_genre(prediction.genres, genre, prediction.probabilities)
    why = explain_features(classifier.model, prediction.features, index,
                           offset_s=prediction.audio.offset_s,
                           duration_s=prediction.audio.duration_s,
                           probability=prediction.probabilities[prediction.genres[index].id],
                           budget=int(budget), device=classifier.device,
                           chunk_scores=prediction.chunk_probabilities,
                           context=prediction.context)
    return replace(why, prediction=prediction)


def _check_budget(budget) -> None:
    if not isinstance(budget, (int, np.integer)) or not 1 <= budget <= MAX_BUDGET:
        raise GenrescopeError(f"The budget must be a whole number of forward passes from 1 to "
                              f"{MAX_BUDGET}, not {budget!r}.")


def grid_shape(n_chunks: int, budget: int, n_time: int, n_freq: int) -> tuple[int, int]:
    """(bands, time cells per chunk) for ``budget`` passes over ``n_chunks`` chunks.

    Each chunk gets ``budget // n_chunks`` cells; frequency is refined first
    (a short chunk says little more when cut in time), time cells grow with
    about the square root of the cells per chunk.

    Raises
    ------
    GenrescopeError
        When the budget is under one pass per chunk.
    """
    if budget < n_chunks:
        raise GenrescopeError(
            f"An explanation needs at least one forward pass per analysed chunk: this window "
            f"has {n_chunks} chunks, the budget is {budget}. Raise the budget or analyse a "
            "shorter window (--duration).")
    cells = budget // n_chunks
    times = max(1, min(n_time, int(round(np.sqrt(cells / 4.0)))))
    bands = max(1, min(n_freq, MAX_BANDS, cells // times))
    return bands, times


def occlusion(model: "Model", features: Features, genre_index: int, *,
              budget: int = DEFAULT_BUDGET, device: str = "cpu",
              chunk_scores: np.ndarray | None = None,
              batch_size: int = BATCH_SIZE,
              context: np.ndarray | None = None) -> tuple[np.ndarray, dict]:
    """The occlusion map of one label over every chunk of ``features``.

    Parameters
    ----------
    model : Model
        Any model family; only :meth:`Model.scores` is called.
    features : Features
        The model's front-end output for the analysed window.
    genre_index : int
        The label explained.
    budget : int
        Most forward passes to spend: one per cell, plus one per chunk for
        the unoccluded scores unless ``chunk_scores`` gives them.
    device : str
        Where the network runs.
    chunk_scores : np.ndarray, optional
        (n_chunks, n_labels) unoccluded scores (``Prediction.chunk_probabilities``).
    batch_size : int
        Inputs per forward call.
    context : np.ndarray, optional
        The window's context block (``Prediction.context``) for models that
        read one: held fixed while the chunks are occluded.

    Returns
    -------
    heat : np.ndarray
        (n_bands, n_chunks * n_times) drops of probability, low bands first.
    grid : dict
        ``bands`` and ``times`` (cells per chunk), ``n_passes``, and the
        input layout (``time_axis``, ``freq_axis``, ``freq_reversed``).
    """
    inputs = features.inputs
    layout = _layout(inputs)
    n_chunks = inputs.shape[0]
    n_time, n_freq = inputs.shape[layout["time_axis"]], inputs.shape[layout["freq_axis"]]
    base_passes = 0 if chunk_scores is not None else n_chunks
    bands, times = grid_shape(n_chunks, budget - base_passes, n_time, n_freq)
    t_edges = np.linspace(0, n_time, times + 1).round().astype(int)
    f_edges = np.linspace(0, n_freq, bands + 1).round().astype(int)

    def masked(i: int, band: int, cell: int) -> torch.Tensor:
        x = inputs[i].clone()
        lo, hi = f_edges[band], f_edges[band + 1]
        if layout["freq_reversed"]:                   # picture rows: highest pitch on top
            lo, hi = n_freq - hi, n_freq - lo
        index = [slice(None)] * x.ndim
        index[layout["time_axis"] - 1] = slice(t_edges[cell], t_edges[cell + 1])
        index[layout["freq_axis"] - 1] = slice(lo, hi)
        # the quietest value of this input (per colour channel for pictures)
        floor = x.amin(dim=tuple(range(1, x.ndim)), keepdim=True) if x.ndim == 3 else x.min()
        x[tuple(index)] = floor.expand_as(x)[tuple(index)]
        return x

    jobs = [(i, b, c) for i in range(n_chunks) for c in range(times) for b in range(bands)]
    if chunk_scores is None:
        base = _probabilities(model, inputs, genre_index, device, batch_size, context)
    else:
        base = _normalised(model, torch.as_tensor(np.asarray(chunk_scores, np.float32)))
        base = base[:, genre_index].numpy()
    drops = np.zeros(len(jobs), dtype=np.float32)
    for start in range(0, len(jobs), batch_size):
        part = jobs[start:start + batch_size]
        batch = torch.stack([masked(*job) for job in part])
        drops[start:start + len(part)] = base[[i for i, _, _ in part]] - \
            _probabilities(model, batch, genre_index, device, batch_size, context)
    heat = drops.reshape(n_chunks, times, bands).transpose(2, 0, 1).reshape(bands, -1)
    grid = dict(layout, bands=bands, times=times, t_edges=t_edges, f_edges=f_edges,
                n_passes=base_passes + len(jobs))
    return heat, grid


def explain_features(model: "Model", features: Features, genre_index: int, *,
                     offset_s: float, duration_s: float, probability: float,
                     budget: int = DEFAULT_BUDGET, device: str = "cpu",
                     chunk_scores: np.ndarray | None = None,
                     context: np.ndarray | None = None) -> Explanation:
    """:func:`occlusion` with its axes in seconds and Hz: an :class:`Explanation`.

    Parameters
    ----------
    offset_s, duration_s : float
        The analysed window in the source (cells are clipped to it).
    probability : float
        The genre's probability for the window, as the prediction gave it.
    chunk_scores : np.ndarray, optional
        The unoccluded per-chunk scores, if already known (saves a pass per chunk).
    context : np.ndarray, optional
        The window's context block, held fixed (:func:`occlusion`).
    """
    _check_budget(budget)
    t0 = time.perf_counter()
    heat, grid = occlusion(model, features, genre_index, budget=budget, device=device,
                           chunk_scores=chunk_scores, context=context)
    n_rows = features.spec_db.shape[0]
    n_chunks = features.inputs.shape[0]
    chunks = features.chunks if len(features.chunks) == n_chunks else \
        [(0, features.spec_db.shape[1])] * n_chunks
    fr = features.frame_rate_hz or 1.0
    n_time = features.inputs.shape[grid["time_axis"]]
    cells, owner = [], []
    for i, (a, b) in enumerate(chunks):
        for k in range(grid["times"]):
            lo, hi = (a + (b - a) * grid["t_edges"][j] / n_time for j in (k, k + 1))
            cells.append((lo / fr, hi / fr))
            owner.append(i)
    time_s = np.clip(np.asarray(cells), 0.0, duration_s) + offset_s
    n_freq = features.inputs.shape[grid["freq_axis"]]
    rows = np.stack([grid["f_edges"][:-1], grid["f_edges"][1:]], axis=1) * (n_rows / n_freq)
    return Explanation(
        genre=model.genres[genre_index], probability=float(probability),
        heat=heat.astype(np.float32), time_s=time_s, freq_hz=_rows_to_hz(rows, features),
        rows=rows, chunk_index=np.asarray(owner), kind=features.kind,
        n_passes=grid["n_passes"], budget=budget, seconds=time.perf_counter() - t0)


def find_genre(genres: list, wanted: str | None, probabilities: dict | None = None) -> int:
    """Index of the genre named ``wanted`` (id, English or Chinese name, any
    case); ``None``: the most probable one in ``probabilities``."""
    if wanted is None or wanted == "":
        if not probabilities:
            return 0
        return max(range(len(genres)), key=lambda i: probabilities.get(genres[i].id, 0.0))
    key = wanted.strip().casefold()
    for i, g in enumerate(genres):
        if key in (g.id.casefold(), g.en.casefold(), g.zh.casefold()):
            return i
    shown = ", ".join(g.id for g in genres[:12]) + (", ..." if len(genres) > 12 else "")
    raise GenrescopeError(f"This model has no genre {wanted!r}. Its genres: {shown} "
                          "(see `genrescope models`).")


def _layout(inputs: torch.Tensor) -> dict:
    """Where time and frequency lie in a model's input batch.

    (N, frames, bands): musicnn's log-mel patches, low bands first.
    (N, channels, rows, columns): pictures, highest pitch in the top row.
    """
    if inputs.ndim == 3:
        return {"time_axis": 1, "freq_axis": 2, "freq_reversed": False}
    if inputs.ndim == 4:
        return {"time_axis": 3, "freq_axis": 2, "freq_reversed": True}
    raise GenrescopeError(f"Cannot explain inputs of shape {tuple(inputs.shape)}: occlusion "
                          "knows (N, frames, bands) patches and (N, C, H, W) pictures.")


def _probabilities(model, inputs: torch.Tensor, index: int, device: str,
                   batch_size: int, context: np.ndarray | None = None) -> np.ndarray:
    """The label's per-chunk probability, as the timeline shows it (with the
    window's fixed ``context`` block for models that read one)."""
    out = []
    extra = {} if context is None else {"context": torch.as_tensor(context).to(device)}
    with torch.inference_mode():
        for start in range(0, len(inputs), batch_size):
            batch = inputs[start:start + batch_size].to(device)
            scores = model.scores(batch, **extra).float().cpu()
            scores = scores[:, :len(model.labels)]        # without side outputs (not_music)
            out.append(_normalised(model, scores)[:, index].numpy())
    return np.concatenate(out)


def _normalised(model, scores: torch.Tensor) -> torch.Tensor:
    """Scores rescaled to sum to 1 per chunk when the model's are."""
    if model.normalise:
        return scores / scores.sum(dim=1, keepdim=True).clamp_min(1e-12)
    return scores


def _rows_to_hz(rows: np.ndarray, features: Features) -> np.ndarray:
    """Fractional spectrogram rows -> Hz (log-interpolated between row centres)."""
    row_hz = features.row_hz
    n_rows = features.spec_db.shape[0]
    if row_hz is None or len(row_hz) != n_rows:
        return rows.astype(np.float64)
    centres = np.arange(n_rows) + 0.5
    log_hz = np.log(np.maximum(np.asarray(row_hz, dtype=np.float64), 1e-3))
    slope_lo = log_hz[1] - log_hz[0] if n_rows > 1 else 0.0
    slope_hi = log_hz[-1] - log_hz[-2] if n_rows > 1 else 0.0
    x = np.asarray(rows, dtype=np.float64)
    y = np.interp(x, centres, log_hz)
    y = np.where(x < centres[0], log_hz[0] - (centres[0] - x) * slope_lo, y)
    y = np.where(x > centres[-1], log_hz[-1] + (x - centres[-1]) * slope_hi, y)
    return np.exp(y)
