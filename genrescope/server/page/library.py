"""The page's "Library" tab (``genrescope serve --db library.db``): search the
library by name or genre, see a track's top genres and genre timeline, play it,
list its similar tracks with the reasons, and show the library's map.

A thin shell over :class:`genrescope.library.Library` (``app.state.library``):
the browser names tracks by id only; the player plays the library's audio route
(``/api/v1/library/tracks/{id}/audio``, which serves library files only); the
map is the library's self-contained map HTML in a sandboxed frame.
"""

from __future__ import annotations

import html
import os
import re
import tempfile
import threading

import numpy as np

from ...errors import GenrescopeError
from ...labels import genre as genre_of
from ...timeline import Timeline, TimelineChunk

#: Most tracks a search lists.
MAX_RESULTS = 50
#: Similar tracks shown.
N_SIMILAR = 8

TEXT = {
    "en": dict(
        tab="Library", analyse_tab="Analyse",
        intro="Search the indexed library by name or genre, pick a track: its genres, its "
              "timeline, similar tracks (and why), and a map of the whole library.",
        query="Name contains", genre="Top genre", any="any genre", search="Search",
        results="Tracks ({n})", none="No track matches.", top="Top genres",
        similar="Similar tracks", track="Track", similarity="Similarity", why="Why it is near",
        map="Show the library map", map_label="Library map",
        duration="{title} · {duration} · model {model}", failed="Could not be analysed: {0}",
        error="**Error:** {0}"),
    "zh": dict(
        tab="音乐库", analyse_tab="分析",
        intro="按名称或流派搜索已索引的音乐库，选择一首曲目：查看其流派、时间线、相似曲目（及原因），"
              "以及整个音乐库的地图。",
        query="名称包含", genre="最可能的流派", any="任意流派", search="搜索",
        results="曲目（{n}）", none="没有匹配的曲目。", top="最可能的流派",
        similar="相似曲目", track="曲目", similarity="相似度", why="相似的原因",
        map="显示音乐库地图", map_label="音乐库地图",
        duration="{title} · {duration} · 模型 {model}", failed="无法分析：{0}",
        error="**错误：** {0}"),
}


def track_timeline(track, arrays: dict) -> Timeline | None:
    """The stored genre timeline of a library track as a :class:`Timeline`."""
    labels, chunks = arrays.get("labels") or [], arrays.get("timeline") or []
    if not labels or not chunks:
        return None
    names = {k: {"en": en, "zh": zh} for k, (en, zh) in track.names.items()}
    items = [TimelineChunk(float(c["start_s"]), float(c["end_s"]),
                           np.asarray(c["p"], dtype=np.float32),
                           float(c["start_s"]), float(c["end_s"])) for c in chunks]
    return Timeline([genre_of(label, names) for label in labels], items,
                    items[0].start_s, items[-1].end_s)


def _genre_choices(library, lang: str) -> list:
    stats = library.stats()
    return [(TEXT[lang]["any"], "")] + [(f"{stats.genre_name(g, lang)} ({n})", g)
                                        for g, n in stats.per_genre]


def _result_choices(tracks: list, lang: str) -> list:
    def label(t):
        top = f" — {t.genre_name(t.top[0][0], lang)} {t.top[0][1]:.0%}" if t.top else ""
        return f"{t.title}{top}"

    return [(label(t), t.id) for t in tracks]


def _player(track_id: int) -> str:
    """An audio player on the library's audio route (relative to the page)."""
    return (f'<audio id="lib-audio" controls preload="none" style="width:100%" '
            f'src="api/v1/library/tracks/{int(track_id)}/audio"></audio>')


def _similar_table(hits: list, lang: str) -> str:
    t = TEXT[lang]
    rows = [f"| {t['track']} | {t['similarity']} | {t['why']} |", "|---|---|---|"]
    for h in hits:
        rows.append(f"| {_cell(h.track.title)} | {h.similarity:.2f} | {_cell(h.reason(lang))} |")
    return f"**{t['similar']}**\n\n" + "\n".join(rows) if hits else ""


def _cell(text: str) -> str:
    """``text`` shown literally in Markdown (file names hold ``_``, ``*``, ``|``...)."""
    return re.sub(r"([\\`*_{}\[\]()<>#+!|~-])", r"\\\1", html.escape(text, quote=False))


def library_tab(library, *, lang) -> object:
    """Add the "Library" tab here (inside the page's ``gr.Blocks``).

    Parameters
    ----------
    library : genrescope.library.Library
        ``app.state.library`` of ``serve --db``.
    lang : gr.Radio
        The page's language switch ("en" or "zh").

    Returns
    -------
    gr.Tab
    """
    import gradio as gr

    from ...plot import figure_to_array, timeline_figure
    from ...timeline import clock

    t = TEXT["en"]
    maps: dict = {}
    map_lock = threading.Lock()

    def map_html(lang_now: str) -> str:
        """The library map in a sandboxed frame (made once per language and library state)."""
        key = (lang_now, library.state())
        with map_lock:
            if key not in maps:
                with tempfile.TemporaryDirectory(prefix="genrescope-map-") as tmp:
                    out = library.write_map(os.path.join(tmp, "map.html"), lang=lang_now)
                    maps.clear()
                    maps[key] = out.read_text(encoding="utf-8")
            doc = maps[key]
        return (f'<iframe id="lib-map-frame" title="{TEXT[lang_now]["map_label"]}" '
                f'sandbox="allow-scripts" style="width:100%;height:640px;border:0" '
                f'srcdoc="{html.escape(doc, quote=True)}"></iframe>')

    with gr.Tab(t["tab"], elem_id="library-tab") as tab:
        intro = gr.Markdown(t["intro"])
        with gr.Row():
            query = gr.Textbox(label=t["query"], max_length=200, elem_id="lib-q")
            genre = gr.Dropdown(_genre_choices(library, "en"), value="", label=t["genre"],
                                elem_id="lib-genre")
            search = gr.Button(t["search"], variant="primary", elem_id="lib-search", scale=0,
                               min_width=120)
        with gr.Row():
            with gr.Column(scale=1):
                results = gr.Radio([], label=t["results"].format(n=0), elem_id="lib-results")
            with gr.Column(scale=2):
                heading = gr.Markdown(elem_id="lib-track")
                player = gr.HTML(elem_id="lib-player")
                top = gr.Label(num_top_classes=5, label=t["top"], visible=False,
                               elem_id="lib-top")
                chart = gr.Image(type="numpy", format="png", show_label=False,
                                 interactive=False, visible=False, elem_id="lib-timeline")
                segments = gr.Markdown(elem_id="lib-segments")
                similar = gr.Markdown(elem_id="lib-similar")
        show_map = gr.Button(t["map"], elem_id="lib-show-map")
        library_map = gr.HTML(elem_id="lib-map")

    def find(text, label, lang_now):
        found = library.tracks((text or "").strip() or None, genre=label or None,
                               limit=MAX_RESULTS)
        t = TEXT[lang_now]
        return (gr.update(choices=_result_choices(found, lang_now), value=None,
                          label=t["results"].format(n=len(found)) if found else t["none"]))

    def show(track_id, lang_now):
        t = TEXT[lang_now]
        if not isinstance(track_id, (int, str)) or not str(track_id).isdigit():
            return "", "", gr.update(visible=False), gr.update(visible=False), "", ""
        try:
            track = library.track(int(track_id))
            heading = "### " + _cell(t["duration"].format(
                title=track.title, model=track.model or "-",
                duration=clock(track.duration_s) if track.duration_s else "-"))
            if track.error:
                return (heading + "\n\n" + t["failed"].format(_cell(track.error)), "",
                        gr.update(visible=False), gr.update(visible=False), "", "")
            timeline = track_timeline(track, library.arrays(track.id))
            hits = library.similar(track.id, k=N_SIMILAR)
        except GenrescopeError as exc:
            return (t["error"].format(exc), "", gr.update(visible=False),
                    gr.update(visible=False), "", "")
        bars = {track.genre_name(g, lang_now): p for g, p in track.top}
        picture = gr.update(visible=False)
        text = ""
        if timeline is not None:
            picture = gr.update(value=figure_to_array(timeline_figure(timeline, lang=lang_now)),
                                visible=True)
            text = timeline.describe(lang_now)
        return (heading, _player(track.id), gr.update(value=bars, label=t["top"], visible=True),
                picture, text, _similar_table(hits, lang_now))

    def relabel(lang_now, track_id, text, label):
        t = TEXT[lang_now]
        found = find(text, label, lang_now) if (text or label) else gr.update(
            label=t["results"].format(n=0))
        if "choices" in found:
            found["value"] = track_id
        return (gr.update(label=t["tab"]), t["intro"], gr.update(label=t["query"]),
                gr.update(label=t["genre"], choices=_genre_choices(library, lang_now)),
                t["search"], found, *show(track_id, lang_now), t["map"])

    private = dict(api_visibility="private")
    for trigger in (search.click, query.submit, genre.change):
        trigger(find, [query, genre, lang], results, **private)
    results.change(show, [results, lang], [heading, player, top, chart, segments, similar],
                   concurrency_id="library", **private)
    shown = gr.State(False)
    show_map.click(lambda lang_now: (map_html(lang_now), True), lang, [library_map, shown],
                   concurrency_id="library", **private)
    lang.change(relabel, [lang, results, query, genre],
                [tab, intro, query, genre, search, results, heading, player, top, chart,
                 segments, similar, show_map], show_progress="hidden", **private).then(
        lambda lang_now, on: map_html(lang_now) if on else gr.update(), [lang, shown],
        library_map, concurrency_id="library", **private)
    return tab
