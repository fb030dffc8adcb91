"""Pictures for people: the images a model analysed, with readable axes.

Uses matplotlib's object API (no pyplot state), so it is safe in a server.
"""

from __future__ import annotations

import os

import librosa
import numpy as np
from PIL import Image

from .predict import Prediction


#: Above this many chunks the figure shows one strip with chunk boundaries.
MAX_PANELS = 3


def spectrogram_figure(prediction: Prediction, *, title: str | None = None,
                       width_in: float = 10.0):
    """What the model analysed, time in seconds on x, pitch (note names for
    CQT, Hz for mel) on y.

    Up to :data:`MAX_PANELS` chunks (the 11.4 s CQT images): one panel per
    chunk, each exactly the model's picture. More chunks (musicnn's 3 s
    patches): one strip of the whole analysed spectrogram, chunk boundaries
    dashed, each chunk's own top genre written above it.

    Returns
    -------
    matplotlib.figure.Figure
    """
    from matplotlib.figure import Figure

    from .features import colorize

    features = prediction.features
    n_rows = features.spec_db.shape[0]
    seconds = lambda frame: prediction.audio.offset_s + frame / features.frame_rate_hz
    chunks = features.chunks or [(0, features.spec_db.shape[1])]
    strip = len(features.images) > MAX_PANELS
    panels = [(colorize(features.spec_db), chunks)] if strip else \
        [(image, [chunk]) for image, chunk in zip(features.images, chunks)]
    fig = Figure(figsize=(width_in, 2.6 * len(panels) + 0.6), layout="constrained")
    axes = fig.subplots(len(panels), 1, squeeze=False)[:, 0]
    ticks, tick_labels, y_label = _pitch_axis(prediction)
    first = 0
    for ax, (image, spans) in zip(axes, panels):
        start, stop = (0, features.spec_db.shape[1]) if strip else spans[0]
        ax.imshow(image, aspect="auto", interpolation="nearest",
                  extent=(seconds(start), seconds(stop), 0, n_rows))
        ax.set_yticks(ticks, tick_labels)
        ax.set_ylabel(y_label)
        for i, (a, b) in enumerate(spans, start=first):
            scores = prediction.chunk_probabilities[i]
            best = int(np.argmax(scores))
            label = f"{prediction.genres[best].en} {scores[best]:.0%}"
            if strip:
                ax.axvline(seconds(a), color="white", lw=0.8, ls="--")
                ax.text((seconds(a) + seconds(b)) / 2, n_rows * 1.01, label, ha="center",
                        va="bottom", fontsize=7, rotation=20)
            else:
                ax.set_title(f"chunk {i + 1}: {seconds(a):.1f}-{seconds(b):.1f} s",
                             fontsize=9, loc="left")
                ax.set_title(f"this chunk: {label}", fontsize=9, loc="right")
        first += len(spans)
    axes[-1].set_xlabel("Time (s)")
    if title:
        fig.suptitle(title)
    return fig


def figure_to_array(fig, dpi: int = 100) -> np.ndarray:
    """Render a figure to an RGB uint8 array."""
    from matplotlib.backends.backend_agg import FigureCanvasAgg

    canvas = FigureCanvasAgg(fig)
    fig.set_dpi(dpi)
    canvas.draw()
    return np.asarray(canvas.buffer_rgba())[..., :3].copy()


def save_spectrogram(prediction: Prediction, path: str | os.PathLike, *,
                     raw: bool = False) -> list[str]:
    """Save what the model looked at.

    Parameters
    ----------
    prediction : Prediction
    path : str or PathLike
        Output file (PNG or JPEG by its extension).
    raw : bool
        ``False``: one labelled figure. ``True``: the model's own pictures,
        pixel for pixel, one file per chunk (``name_1.png``, ``name_2.png``
        when there are several).

    Returns
    -------
    list of str
        The files written.
    """
    path = os.fspath(path)
    if not raw:
        fig = spectrogram_figure(prediction, title=os.path.basename(prediction.source or ""))
        fig.savefig(path, dpi=100)
        return [path]
    images = prediction.images
    stem, ext = os.path.splitext(path)
    paths = [path] if len(images) == 1 else [f"{stem}_{i + 1}{ext or '.png'}"
                                             for i in range(len(images))]
    for image, out in zip(images, paths):
        Image.fromarray(image).save(out)
    return paths


def _pitch_axis(prediction: Prediction):
    """Ticks for the rows of the pictures: octaves (C notes) for CQT, round
    frequencies in Hz otherwise."""
    features = prediction.features
    row_hz = features.row_hz
    n_rows = features.spec_db.shape[0]
    if row_hz is None or len(row_hz) != n_rows:
        return [], [], "Frequency band"
    rows = np.arange(n_rows)
    if features.kind == "cqt":
        notes = [librosa.hz_to_note(hz) for hz in row_hz]
        ticks = [r for r in rows if notes[r].startswith("C") and not notes[r].startswith("C♯")]
        return [t + 0.5 for t in ticks], [notes[t] for t in ticks], "Pitch (note)"
    wanted = [hz for hz in (100, 250, 500, 1000, 2000, 4000, 8000)
              if row_hz[0] <= hz <= row_hz[-1]]
    ticks = [float(np.interp(hz, row_hz, rows)) + 0.5 for hz in wanted]
    labels = [f"{hz / 1000:g}k" if hz >= 1000 else f"{hz}" for hz in wanted]
    return ticks, labels, "Frequency (Hz)"
