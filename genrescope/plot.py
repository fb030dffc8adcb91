"""Pictures for people: the images a model analysed, with readable axes.

Uses matplotlib's object API (no pyplot state), so it is safe in a server.
"""

from __future__ import annotations

import os
import threading
from pathlib import Path

import librosa
import numpy as np
from PIL import Image

from .files import replaced_atomically, save_figure
from .predict import Prediction
from .timeline import Timeline, clock


#: Above this many chunks the figure shows one strip with chunk boundaries.
MAX_PANELS = 3


def spectrogram_figure(prediction: Prediction, *, title: str | None = None,
                       width_in: float = 10.0, lang: str = "en"):
    """What the model analysed, time in seconds on x, pitch (note names for
    CQT, Hz for mel) on y.

    Up to :data:`MAX_PANELS` chunks (the 11.4 s CQT images): one panel per
    chunk, each exactly the model's picture. More chunks (musicnn's 3 s
    patches): one strip of the whole analysed spectrogram, chunk boundaries
    dashed, each chunk's own top genre written above it. A chunk's score is
    the same kind of number as the clip's (``Prediction.score``): its
    timeline scores, rescaled to add up to 1 when the clip's are.
    ``lang``: language of the axis titles, chunk titles and genre names.

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
    text, family = _TEXT[lang], _fonts(lang)
    chunk_scores = [c.probabilities for c in prediction.timeline.chunks] \
        if prediction.timeline is not None else prediction.chunk_probabilities
    first = 0
    for ax, (image, spans) in zip(axes, panels):
        start, stop = (0, features.spec_db.shape[1]) if strip else spans[0]
        ax.imshow(image, aspect="auto", interpolation="nearest",
                  extent=(seconds(start), seconds(stop), 0, n_rows))
        ax.set_yticks(ticks, tick_labels)
        ax.set_ylabel(text[y_label], fontfamily=family)
        for i, (a, b) in enumerate(spans, start=first):
            scores = chunk_scores[i]
            best = int(np.argmax(scores))
            label = f"{prediction.genres[best].name(lang)} {scores[best]:.0%}"
            if strip:
                ax.axvline(seconds(a), color="white", lw=0.8, ls="--")
                ax.text((seconds(a) + seconds(b)) / 2, n_rows * 1.01, label, ha="center",
                        va="bottom", fontsize=7, rotation=20, fontfamily=family)
            else:
                ax.set_title(text["chunk"].format(i=i + 1, a=seconds(a), b=seconds(b)),
                             fontsize=9, loc="left", fontfamily=family)
                ax.set_title(text["this_chunk"].format(label), fontsize=9, loc="right",
                             fontfamily=family)
        first += len(spans)
    axes[-1].set_xlabel(text["time"], fontfamily=family)
    if title:
        fig.suptitle(title, fontfamily=family)
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
        save_figure(fig, path)
        return [path]
    images = prediction.images
    stem, ext = os.path.splitext(path)
    paths = [path] if len(images) == 1 else [f"{stem}_{i + 1}{ext or '.png'}"
                                             for i in range(len(images))]
    for image, out in zip(images, paths):
        with replaced_atomically(out) as tmp:
            Image.fromarray(image).save(tmp)
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


#: The CJK font shipped for Chinese pictures (:func:`cjk_family`).
CJK_FONT_FILE = (Path(__file__).resolve().parent / "assets" / "fonts"
                 / "WenQuanYiMicroHei-GB2312.ttf")
_CJK_NAME: list[str] = []
_CJK_LOCK = threading.Lock()
#: Installed CJK fonts used after the shipped one (characters beyond GB 2312).
CJK_FONTS = ("WenQuanYi Micro Hei", "Noto Sans CJK SC", "Noto Sans SC", "Source Han Sans SC",
             "SimHei", "Microsoft YaHei", "PingFang SC")

_TEXT = {
    "en": {"time": "Time (s)", "probability": "Probability", "Pitch (note)": "Pitch (note)",
           "Frequency (Hz)": "Frequency (Hz)", "Frequency band": "Frequency band",
           "why": "Why {genre} ({p:.0%})? Red: silencing this part lowers the probability "
                  "(it made the model say so); blue: raises it",
           "scale": "Drop in P({genre}) when silenced\n(percentage points)",
           "timeline": "Genres over time (each analysed chunk)", "leading": "leading",
           "chunk": "chunk {i}: {a:.1f}-{b:.1f} s", "this_chunk": "this chunk: {}"},
    "zh": {"time": "时间（秒）", "probability": "概率", "Pitch (note)": "音高（音名）",
           "Frequency (Hz)": "频率（Hz）", "Frequency band": "频带",
           "why": "为什么是{genre}（{p:.0%}）？红色：静音该区域会降低该流派的概率"
                  "（是它让模型这样判断）；蓝色：会提高",
           "scale": "静音后{genre}概率的下降\n（百分点）",
           "timeline": "流派随时间的变化（每个分析片段）", "leading": "主导",
           "chunk": "片段 {i}：{a:.1f}–{b:.1f} 秒", "this_chunk": "本片段：{}"},
}


def explanation_figure(explanation, *, lang: str = "en", title: str | None = None,
                       width_in: float = 10.0):
    """The occlusion map over the spectrogram the model saw.

    Same axes as :func:`spectrogram_figure`: seconds of the source on x,
    notes (CQT) or Hz (mel) on y. The spectrogram is drawn in greys; each
    occlusion cell is tinted red where silencing it lowers the genre's
    probability and blue where it raises it; the colour bar gives the drop in
    percentage points; the strongest cell is outlined.

    Parameters
    ----------
    explanation : Explanation
        With its ``prediction`` (see :func:`genrescope.explain.explain`).
    lang : {"en", "zh"}

    Returns
    -------
    matplotlib.figure.Figure
    """
    from matplotlib.figure import Figure
    from matplotlib.patches import Rectangle

    prediction = explanation.prediction
    if prediction is None:
        raise ValueError("explanation_figure needs an Explanation with its prediction")
    text, family = _TEXT[lang], _fonts(lang)
    features = prediction.features
    n_rows, n_frames = features.spec_db.shape
    fr = features.frame_rate_hz or 1.0
    offset_s = prediction.audio.offset_s
    fig = Figure(figsize=(width_in, 3.6), layout="constrained")
    ax = fig.subplots()
    ax.imshow(features.spec_db, origin="lower", aspect="auto", cmap="gray",
              interpolation="nearest", extent=(offset_s, offset_s + n_frames / fr, 0, n_rows))
    heat_pp = explanation.heat * 100.0
    vmax = max(float(np.abs(heat_pp).max()), 1e-3)
    y_edges = np.append(explanation.rows[:, 0], explanation.rows[-1, 1])
    mesh = None
    for chunk in np.unique(explanation.chunk_index):
        cells = np.flatnonzero(explanation.chunk_index == chunk)
        x_edges = np.append(explanation.time_s[cells, 0], explanation.time_s[cells[-1], 1])
        mesh = ax.pcolormesh(x_edges, y_edges, heat_pp[:, cells], cmap="RdBu_r", vmin=-vmax,
                             vmax=vmax, alpha=0.6, shading="flat", edgecolors="none")
    band, cell = explanation.peak()
    (t0, t1), (r0, r1) = explanation.time_s[cell], explanation.rows[band]
    ax.add_patch(Rectangle((t0, r0), t1 - t0, r1 - r0, fill=False, edgecolor="yellow", lw=1.5))
    ticks, tick_labels, y_label = _pitch_axis(prediction)
    ax.set_yticks(ticks, tick_labels)
    ax.set_ylim(0, n_rows)
    ax.set_ylabel(text[y_label], fontfamily=family)
    ax.set_xlabel(text["time"], fontfamily=family)
    name = explanation.genre.name(lang)
    bar = fig.colorbar(mesh, ax=ax, pad=0.01)
    bar.set_label(text["scale"].format(genre=name), fontfamily=family)
    ax.set_title(text["why"].format(genre=name, p=explanation.probability), fontsize=9,
                 loc="left", fontfamily=family)
    if title:
        fig.suptitle(title, fontfamily=family)
    return fig


def timeline_figure(timeline: Timeline, *, lang: str = "en", top_k: int = 5,
                    title: str | None = None, width_in: float = 10.0):
    """The genres over time: each chunk's probability of the ``top_k`` genres
    (highest mean first) as steps over its seconds, and under them the merged
    segments of the leading genre.

    Parameters
    ----------
    timeline : Timeline
        ``Prediction.timeline``.
    lang : {"en", "zh"}
        Language of the legend and labels.

    Returns
    -------
    matplotlib.figure.Figure
    """
    from matplotlib.figure import Figure

    from .palette import genre_colour

    text, family = _TEXT[lang], _fonts(lang)
    probs = timeline.probabilities
    order = [int(i) for i in np.argsort(-probs.mean(axis=0), kind="stable")[:max(1, top_k)]]
    colours = {g: genre_colour(timeline.genres[g].id) for g in order}
    edges = np.array([c.start_s for c in timeline.chunks] + [timeline.chunks[-1].end_s])
    fig = Figure(figsize=(width_in, 3.2), layout="constrained")
    ax, seg_ax = fig.subplots(2, 1, sharex=True, height_ratios=(5, 1))
    for g in order:
        ax.stairs(probs[:, g], edges, baseline=None, color=colours[g], lw=2,
                  label=timeline.genres[g].name(lang))
    ax.set_ylim(0, max(1e-3, float(probs[:, order].max())) * 1.1)
    ax.set_ylabel(text["probability"], fontfamily=family)
    ax.legend(loc="upper left", bbox_to_anchor=(1.01, 1.0), fontsize=8,
              prop={"family": family, "size": 8})
    ax.set_title(title or text["timeline"], fontsize=9, loc="left", fontfamily=family)
    index = {g.id: i for i, g in enumerate(timeline.genres)}
    for seg in timeline.segments():
        colour = colours.get(index[seg.genre.id], "lightgrey")
        seg_ax.axvspan(seg.start_s, seg.end_s, color=colour, alpha=0.7)
        seg_ax.text((seg.start_s + seg.end_s) / 2, 0.5,
                    f"{seg.genre.name(lang)} {clock(seg.start_s)}-{clock(seg.end_s)}",
                    ha="center", va="center", fontsize=7, fontfamily=family, clip_on=True)
    seg_ax.set_yticks([])
    seg_ax.set_ylabel(text["leading"], fontsize=8, rotation=0, ha="right", va="center",
                      fontfamily=family)
    seg_ax.set_xlim(timeline.start_s, timeline.end_s)
    seg_ax.set_xlabel(text["time"], fontfamily=family)
    return fig


def figure_png(fig, dpi: int = 100) -> bytes:
    """A figure as PNG bytes (for the API and the page)."""
    import io

    buffer = io.BytesIO()
    fig.savefig(buffer, format="png", dpi=dpi)
    return buffer.getvalue()


def save_explanation(explanation, path: str | os.PathLike, *, lang: str = "en") -> str:
    """Write :func:`explanation_figure` to ``path`` (PNG, JPEG, SVG, PDF by extension)."""
    path = os.fspath(path)
    source = explanation.prediction.source if explanation.prediction is not None else None
    return save_figure(explanation_figure(explanation, lang=lang,
                                          title=os.path.basename(source) if source else None),
                       path)


def _fonts(lang: str) -> list[str]:
    """Font families for ``lang``: matplotlib's default; for Chinese then the
    CJK font shipped with genrescope (:func:`cjk_family`) and an installed
    CJK font, if any, for characters beyond GB 2312."""
    from matplotlib import font_manager, rcParams

    families = list(rcParams["font.sans-serif"][:1]) or ["DejaVu Sans"]
    if lang == "zh":
        families.append(cjk_family())
        installed = {f.name for f in font_manager.fontManager.ttflist
                     if Path(f.fname) != CJK_FONT_FILE}
        families += [f for f in CJK_FONTS if f in installed and f not in families][:1]
    return families


def cjk_family() -> str:
    """The family name of the shipped CJK font, registered with matplotlib's
    font manager on first use (not at import: English pictures never load it).

    The font is WenQuanYi Micro Hei (Apache-2.0) cut to GB 2312 by
    ``tools/build_cjk_font.py``: Chinese pictures need no installed font and
    no font cache rebuild.
    """
    from matplotlib import font_manager

    with _CJK_LOCK:
        if not _CJK_NAME:
            font_manager.fontManager.addfont(str(CJK_FONT_FILE))
            _CJK_NAME.append(font_manager.FontProperties(fname=str(CJK_FONT_FILE)).get_name())
    return _CJK_NAME[0]
