"""Pictures for people: the images a model analysed, with readable axes.

Uses matplotlib's object API (no pyplot state), so it is safe in a server.
"""

from __future__ import annotations

import os

import librosa
import numpy as np
from PIL import Image

from .predict import Prediction


def spectrogram_figure(prediction: Prediction, *, title: str | None = None,
                       width_in: float = 10.0):
    """One panel per analysed chunk: the model's picture, time in seconds on
    x, pitch (note names for CQT, Hz for mel) on y.

    Returns
    -------
    matplotlib.figure.Figure
    """
    from matplotlib.figure import Figure

    features = prediction.features
    spec = features.spec_db
    n_panels = max(1, len(features.images))
    fig = Figure(figsize=(width_in, 2.6 * n_panels + 0.6), layout="constrained")
    axes = fig.subplots(n_panels, 1, squeeze=False)[:, 0]
    ticks, tick_labels, y_label = _pitch_axis(prediction)
    for i, (ax, image) in enumerate(zip(axes, features.images)):
        a, b = features.chunks[i] if i < len(features.chunks) else (0, spec.shape[1])
        t0 = prediction.audio.offset_s + a / features.frame_rate_hz
        t1 = prediction.audio.offset_s + b / features.frame_rate_hz
        ax.imshow(image, aspect="auto", extent=(t0, t1, 0, spec.shape[0]),
                  interpolation="nearest")
        ax.set_yticks(ticks, tick_labels)
        ax.set_ylabel(y_label)
        scores = prediction.chunk_probabilities[i]
        best = int(np.argmax(scores))
        ax.set_title(f"chunk {i + 1}: {t0:.1f}-{t1:.1f} s", fontsize=9, loc="left")
        ax.set_title(f"this chunk: {prediction.genres[best].en} {scores[best]:.0%}",
                     fontsize=9, loc="right")
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
