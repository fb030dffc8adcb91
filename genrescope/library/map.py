"""A 2-D map of the library as one HTML file that opens with no network.

Projection: UMAP (``umap-learn``, cosine metric, fixed ``random_state``) when
it is installed and the library has at least 16 tracks; otherwise t-SNE from
scikit-learn (PCA initialisation, fixed seed) up to 20 000 tracks, and PCA
beyond (or below 4 tracks). The method used is written in the page's title.
The figure is plotly's (:func:`map_figure`; the page draws it itself), one
colour per top genre; hovering a point shows the track. :func:`write_map`
writes it with plotly.js inlined (about 4.6 MB).
"""

from __future__ import annotations

import html
import os
from pathlib import Path

import numpy as np

from .results import Track

UMAP_MIN_TRACKS = 16
TSNE_MAX_TRACKS = 20_000


def project_2d(unit: np.ndarray, *, seed: int = 0, method: str = "auto") -> tuple[np.ndarray, str]:
    """2-D coordinates of the rows of ``unit`` and the method's name.

    Parameters
    ----------
    unit : np.ndarray
        (N, D) unit-length embeddings.
    seed : int
        Fixes the projection (the same library gives the same map).
    method : {"auto", "umap", "tsne", "pca"}
    """
    n = len(unit)
    if n < 4:
        method = "pca"
    elif method == "auto":
        method = "umap" if n >= UMAP_MIN_TRACKS and _has_umap() else (
            "tsne" if n <= TSNE_MAX_TRACKS else "pca")
    if method == "umap":
        import umap

        reducer = umap.UMAP(n_components=2, n_neighbors=min(15, n - 1), metric="cosine",
                            random_state=seed, n_jobs=1)
        return np.asarray(reducer.fit_transform(unit), dtype=np.float64), "UMAP"
    if method == "tsne":
        from sklearn.manifold import TSNE

        tsne = TSNE(n_components=2, perplexity=min(30.0, (n - 1) / 3), init="pca",
                    random_state=seed, metric="cosine")
        return tsne.fit_transform(unit.astype(np.float64)), "t-SNE"
    from sklearn.decomposition import PCA

    if n < 2:
        return np.zeros((n, 2)), "PCA"
    xy = PCA(n_components=min(2, n, unit.shape[1]), random_state=seed).fit_transform(unit)
    return np.pad(xy, ((0, 0), (0, 2 - xy.shape[1]))), "PCA"


def _has_umap() -> bool:
    import importlib.util

    return importlib.util.find_spec("umap") is not None


#: Up to this many tracks the map draws SVG points (crisp, no WebGL needed);
#: more go through WebGL (``Scattergl``), which stays fast at 100 000 points.
SVG_MAX_TRACKS = 5_000


def map_figure(unit: np.ndarray, tracks: list[Track], *, lang: str = "en", seed: int = 0,
               method: str = "auto"):
    """The map of ``tracks`` (rows of ``unit``) as a plotly figure: one trace
    per top genre, coloured with :func:`genrescope.palette.genre_colour`."""
    import plotly.graph_objects as go

    from ..palette import genre_colour

    xy, used = project_2d(unit, seed=seed, method=method)
    zh = lang == "zh"
    points = go.Scatter if len(tracks) <= SVG_MAX_TRACKS else go.Scattergl
    fig = go.Figure()
    labels = [t.top[0][0] if t.top else "?" for t in tracks]
    for label in sorted(set(labels), key=lambda g: -labels.count(g)):
        rows = [i for i, g in enumerate(labels) if g == label]
        name = tracks[rows[0]].genre_name(label, lang)
        fig.add_trace(points(
            x=xy[rows, 0], y=xy[rows, 1], mode="markers", name=f"{name} ({len(rows)})",
            marker={"size": 7, "opacity": 0.85, "color": genre_colour(label)},
            customdata=[[tracks[i].id] for i in rows],
            text=[_hover(tracks[i], lang) for i in rows],
            hovertemplate="%{text}<extra></extra>"))
    # two short lines: the title stays whole on a phone (390 px)
    title = (f"音乐库地图：{len(tracks)} 首曲目<br><sub>{used}，按最高流派着色</sub>" if zh
             else f"Library map: {len(tracks)} tracks<br><sub>{used}, coloured by top genre</sub>")
    fig.update_layout(title={"text": title, "x": 0.01, "xanchor": "left"},
                      template="plotly_white", modebar={"orientation": "v"},
                      legend={"itemsizing": "constant", "orientation": "h", "yanchor": "top",
                              "y": -0.02, "x": 0},
                      xaxis={"visible": False}, yaxis={"visible": False},
                      margin={"l": 10, "r": 10, "t": 60, "b": 10})
    return fig


def write_map(out: str | os.PathLike, unit: np.ndarray, tracks: list[Track], *,
              lang: str = "en", seed: int = 0, method: str = "auto") -> Path:
    """Write :func:`map_figure` to ``out`` as one HTML file (plotly.js inlined)."""
    from ..files import write_text_atomically

    fig = map_figure(unit, tracks, lang=lang, seed=seed, method=method)
    out = Path(out)
    write_text_atomically(out, fig.to_html(include_plotlyjs=True, full_html=True,
                                           config={"displaylogo": False}))
    return out


def _hover(t: Track, lang: str) -> str:
    genres = ", ".join(f"{html.escape(t.genre_name(g, lang))} {p:.0%}" for g, p in t.top[:3])
    return f"<b>{html.escape(t.title)}</b><br>{genres}<br>{html.escape(t.path)}"
