"""A 2-D map of the library as one HTML file that opens with no network.

Projection: UMAP (``umap-learn``, cosine metric, fixed ``random_state``) when
it is installed and the library has at least 16 tracks; otherwise t-SNE from
scikit-learn (PCA initialisation, fixed seed) up to 5 000 tracks, and PCA
beyond (or below 4 tracks). The method used is written in the page's title.
A library of more than 50 000 tracks is drawn from a seeded random sample of
50 000 (the title says so): UMAP of 50 000 takes about 24 s on two cores
(after numba's compile, once per process), a million would take many
minutes and a page of hundreds of MB.
The figure is plotly's (:func:`map_figure`; the page draws it itself), one
colour per top genre; hovering a point shows the track. :func:`write_map`
writes it with plotly.js inlined (about 4.6 MB).
"""

from __future__ import annotations

import html
import os
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from .results import Track

UMAP_MIN_TRACKS = 16
#: t-SNE (no umap-learn), quiet, 2 cores: 19 s for 5 000 tracks, 69 s for 10 000
#: (``benchmarks/bench_map.py``)
TSNE_MAX_TRACKS = 5_000
#: the most tracks one map draws (a seeded random sample above it)
MAP_MAX_TRACKS = 50_000


@dataclass(frozen=True)
class MapLayout:
    """Where the map puts each track: ``xy[i]`` is ``tracks[i]``'s place,
    ``method`` the projection's name, ``n_total`` the tracks the sample was
    drawn from (``len(tracks)`` when every track is drawn)."""

    xy: np.ndarray
    tracks: list
    method: str
    n_total: int


def sample_rows(n: int, *, max_rows: int | None = None, seed: int = 0) -> np.ndarray:
    """Row numbers of the tracks a map of ``n`` draws: all of them, or a
    sorted seeded random sample of ``max_rows`` (default :data:`MAP_MAX_TRACKS`)."""
    max_rows = MAP_MAX_TRACKS if max_rows is None else max_rows
    if n <= max_rows:
        return np.arange(n)
    return np.sort(np.random.default_rng(seed).choice(n, size=max_rows, replace=False))


def layout_of(unit: np.ndarray, ids: np.ndarray, tracks_by_id, *, seed: int = 0,
              method: str = "auto", max_tracks: int | None = None) -> MapLayout:
    """The map of the tracks ``ids`` (rows of ``unit``): a sample of them
    (:func:`sample_rows`), read with ``tracks_by_id(ids) -> {id: Track}``
    (a track gone meanwhile is left out), projected with :func:`project_2d`."""
    rows = sample_rows(len(ids), max_rows=max_tracks, seed=seed)
    found = tracks_by_id(ids[rows])
    rows = np.array([r for r in rows if int(ids[r]) in found], dtype=np.int64)
    xy, used = project_2d(unit[rows], seed=seed, method=method)
    return MapLayout(xy, [found[int(ids[r])] for r in rows], used, len(ids))


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


def map_figure(layout: MapLayout, *, lang: str = "en"):
    """The map ``layout`` as a plotly figure: one trace per top genre,
    coloured with :func:`genrescope.palette.genre_colour`."""
    import plotly.graph_objects as go

    from ..palette import genre_colour

    xy, used, tracks = layout.xy, layout.method, layout.tracks
    zh = lang == "zh"
    points = go.Scatter if len(tracks) <= SVG_MAX_TRACKS else go.Scattergl
    fig = go.Figure()
    labels = [t.top[0][0] if t.top else "?" for t in tracks]
    for label in sorted(set(labels), key=lambda g: (-labels.count(g), g)):   # ties: by id
        rows = [i for i, g in enumerate(labels) if g == label]
        name = tracks[rows[0]].genre_name(label, lang)
        fig.add_trace(points(
            x=xy[rows, 0], y=xy[rows, 1], mode="markers", name=f"{name} ({len(rows)})",
            marker={"size": 7, "opacity": 0.85, "color": genre_colour(label)},
            customdata=[[tracks[i].id] for i in rows],
            text=[_hover(tracks[i], lang) for i in rows],
            hovertemplate="%{text}<extra></extra>"))
    # two short lines: the title stays whole on a phone (390 px)
    n, shown = layout.n_total, len(tracks)
    sample = (("" if n == shown else f"随机显示 {shown:,} 首 · ") if zh
              else ("" if n == shown else f"{shown:,} shown at random · "))
    title = (f"音乐库地图：{n:,} 首曲目<br><sub>{sample}{used}，按最高流派着色</sub>" if zh
             else f"Library map: {n:,} tracks<br><sub>{sample}{used}, coloured by top genre</sub>")
    fig.update_layout(title={"text": title, "x": 0.01, "xanchor": "left"},
                      template="plotly_white", modebar={"orientation": "v"},
                      legend={"itemsizing": "constant", "orientation": "h", "yanchor": "top",
                              "y": -0.02, "x": 0},
                      xaxis={"visible": False}, yaxis={"visible": False},
                      margin={"l": 10, "r": 10, "t": 60, "b": 10})
    return fig


def write_map(out: str | os.PathLike, layout: MapLayout, *, lang: str = "en") -> Path:
    """Write :func:`map_figure` to ``out`` as one HTML file (plotly.js inlined)."""
    from ..files import write_text_atomically

    fig = map_figure(layout, lang=lang)
    out = Path(out)
    write_text_atomically(out, fig.to_html(include_plotlyjs=True, full_html=True,
                                           config={"displaylogo": False}))
    return out


def _hover(t: Track, lang: str) -> str:
    genres = ", ".join(f"{html.escape(t.genre_name(g, lang))} {p:.0%}" for g, p in t.top[:3])
    return f"<b>{html.escape(t.title)}</b><br>{genres}<br>{html.escape(t.path)}"
