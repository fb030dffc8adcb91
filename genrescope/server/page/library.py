"""The page's "Library" tab (``genrescope serve --db library.db``): search the
library by name, genre, instrument or voice heard and note, see a track's top
genres, what was heard in it, its notes and genre timeline, play it, list its
similar tracks with the reasons, and show the library's map.

A thin shell over :class:`genrescope.library.Library` (``app.state.library``):
the browser names tracks by id only; the player plays the library's audio route
(``/api/v1/library/tracks/{id}/audio``, which serves library files only); the
map is the library's plotly figure, drawn by the page (``gr.Plot``).
"""

from __future__ import annotations

import html
import re
import threading
from types import SimpleNamespace

import numpy as np

from ...errors import GenrescopeError
from ...i18n import note_name, warning_text
from ...labels import genre as genre_of
from ...timeline import Timeline, TimelineChunk

#: Most tracks a search lists.
MAX_RESULTS = 50
#: Similar tracks shown.
N_SIMILAR = 8
#: Run in the page when the Library tab opens: the map, if drawn, fills its box
#: again (plotly's own resize; it does nothing to a hidden plot).
RESIZE_MAP_JS = """() => {
  const plot = document.querySelector('#lib-map .js-plotly-plot');
  if (plot && plot.getClientRects().length && window.Plotly) {
    window.Plotly.Plots.resize(plot).catch(() => {});
  }
}"""

TEXT = {
    "en": dict(
        tab="Library", analyse_tab="Analyse",
        intro="Search the indexed library by name, genre, instrument or voice heard, or "
              "note; pick a track: its genres, what was heard, its timeline, similar tracks "
              "(and why), and a map of the whole library.",
        query="Name contains", genre="Top genre", any="any genre", search="Search",
        heard="Heard", any_heard="any instrument or voice", note="Note",
        any_note="any note (or none)", heard_line="Heard: {heard}",
        results="Tracks ({n})", none="No track matches.", top="Top genres",
        similar="Similar tracks", track="Track", similarity="Similarity", why="Why it is near",
        map="Show the library map", map_label="Library map",
        duration="{title} · {duration} · model {model}", failed="Could not be analysed: {0}",
        error="**Error:** {0}"),
    "zh": dict(
        tab="音乐库", analyse_tab="分析",
        intro="按名称、流派、听到的乐器或人声、提示搜索已索引的音乐库，选择一首曲目：查看其流派、"
              "听到的声音、时间线、相似曲目（及原因），以及整个音乐库的地图。",
        query="名称包含", genre="最可能的流派", any="任意流派", search="搜索",
        heard="听到的乐器或人声", any_heard="任意乐器或人声", note="提示",
        any_note="任意提示（或没有）", heard_line="听到：{heard}",
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


def _choices(library, lang: str) -> tuple[list, list, list]:
    """The search's choices in ``lang``, each with its track count: (top
    genres, instruments and voices heard, notes); the first of each, value
    ``""``, is "any"."""
    stats, t = library.stats(), TEXT[lang]
    return ([(t["any"], "")] + [(f"{stats.genre_name(g, lang)} ({n})", g)
                                for g, n in stats.per_genre],
            [(t["any_heard"], "")] + [(f"{stats.heard_name(h, lang)} ({n})", h)
                                      for h, n in stats.heard],
            [(t["any_note"], "")] + [(f"{note_name(c, lang)} ({n})", c)
                                     for c, n in stats.notes])


def _hearing(track, lang: str) -> str:
    """What was heard in ``track`` ("Heard: Violin, fiddle 80%, Cello 40%",
    with AudioSet's credit) and its notes, in ``lang``."""
    from .text import TEXT as PAGE

    zh = lang == "zh"
    sep = "、" if zh else ", "
    parts = []
    if track.heard:
        heard = sep.join(f"{_cell(h['name_zh' if zh else 'name_en'])} {h['score']:.0%}"
                         for h in track.heard)
        parts.append(TEXT[lang]["heard_line"].format(heard=heard) + "  \n"
                     + PAGE[lang]["credit_audioset"])
    notes = [f"- ⚠️ {_cell(_note_text(w, lang))}" for w in track.warnings]
    return "\n\n".join(parts + (["\n".join(notes)] if notes else []))


def _note_text(note: dict, lang: str) -> str:
    """A stored note in ``lang``; in Chinese its short name when its text needs
    details the library does not keep."""
    message = note.get("message") or note_name(note["code"], "en")
    text = warning_text(note["code"], message, note.get("details") or {}, lang)
    return note_name(note["code"], lang) if lang == "zh" and text == message else text


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
        rows.append(f"| {_name_cell(h.track.title)} | {h.similarity:.2f} | "
                    f"{_cell(h.reason(lang))} |")
    return f"**{t['similar']}**\n\n" + "\n".join(rows) if hits else ""


def _cell(text: str) -> str:
    """``text`` shown literally in Markdown (file names hold ``_``, ``*``, ``|``...)."""
    return re.sub(r"([\\`*_{}\[\]()<>#+!|~-])", r"\\\1", html.escape(text, quote=False))


def _name_cell(title: str) -> str:
    """A track name for a narrow table cell: it may break after ``.``, ``_``,
    ``-`` or a space, never inside a word (``classical.<wbr>00002``)."""
    return re.sub(r"(\\?[._\-])(?=\S)", r"\1<wbr>", _cell(title))


class MapFigures:
    """The library map as a plotly figure, made once per language and library
    state (thread-safe: the page's events run in threads). The page draws it
    in its own document (``gr.Plot``): a sandboxed frame, used before, could
    stay unpainted at zero width when it was made while its tab was hidden
    (issue 26.4)."""

    def __init__(self, library):
        self.library, self.figures, self.lock = library, {}, threading.Lock()

    def figure(self, lang: str):
        key = (lang, self.library.state())
        with self.lock:
            if key not in self.figures:
                self.figures.clear()
                self.figures[key] = self.library.map_figure(lang=lang)
            return self.figures[key]

    def shown(self, lang: str) -> dict:
        """The map, shown (a ``gr.update``)."""
        import gradio as gr

        return gr.update(value=self.figure(lang), label=TEXT[lang]["map_label"], visible=True)


def find_tracks(library, text, label, heard, note, lang: str) -> dict:
    """The results list (a ``gr.update``) of a search by name, top genre,
    instrument or voice heard (a label id) and note (a code)."""
    import gradio as gr

    found = library.tracks((text or "").strip() or None, genre=label or None,
                           heard=heard or None, note=note or None, limit=MAX_RESULTS)
    t = TEXT[lang]
    return gr.update(choices=_result_choices(found, lang), value=None,
                     label=t["results"].format(n=len(found)) if found else t["none"])


def show_track(library, track_id, lang: str) -> tuple:
    """(heading, player, top genres, heard and notes, timeline picture,
    segments, similar tracks)."""
    import gradio as gr

    from ...plot import figure_to_array, timeline_figure
    from ...timeline import clock

    t, hidden = TEXT[lang], gr.update(visible=False)
    if not isinstance(track_id, (int, str)) or not str(track_id).isdigit():
        return "", "", hidden, "", hidden, "", ""
    try:
        track = library.track(int(track_id))
        heading = "### " + _cell(t["duration"].format(
            title=track.title, model=track.model or "-",
            duration=clock(track.duration_s) if track.duration_s else "-"))
        if track.error:
            return (heading + "\n\n" + t["failed"].format(_cell(track.error)), "",
                    hidden, "", hidden, "", "")
        timeline = track_timeline(track, library.arrays(track.id))
        hits = library.similar(track.id, k=N_SIMILAR)
    except GenrescopeError as exc:
        return t["error"].format(exc), "", hidden, "", hidden, "", ""
    bars = {track.genre_name(g, lang): p for g, p in track.top}
    picture, text = hidden, ""
    if timeline is not None:
        picture = gr.update(value=figure_to_array(timeline_figure(timeline, lang=lang)),
                            visible=True)
        text = timeline.describe(lang)
    return (heading, _player(track.id), gr.update(value=bars, label=t["top"], visible=True),
            _hearing(track, lang), picture, text, _similar_table(hits, lang))


def library_tab(library, *, lang) -> object:
    """Add the "Library" tab here (inside the page's ``gr.Tabs``).

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
    ui = _library_components(library)
    _wire_library(library, ui, lang)
    return ui.tab


def _library_components(library) -> SimpleNamespace:
    import gradio as gr

    t, ui = TEXT["en"], SimpleNamespace()
    genres, heard, notes = _choices(library, "en")
    with gr.Tab(t["tab"], elem_id="library-tab") as ui.tab:
        ui.intro = gr.Markdown(t["intro"])
        with gr.Row():
            ui.query = gr.Textbox(label=t["query"], max_length=200, elem_id="lib-q",
                                  min_width=200)
            ui.genre = gr.Dropdown(genres, value="", label=t["genre"], elem_id="lib-genre",
                                   min_width=220)
            ui.heard = gr.Dropdown(heard, value="", label=t["heard"], elem_id="lib-heard",
                                   min_width=220)
            ui.note = gr.Dropdown(notes, value="", label=t["note"], elem_id="lib-note",
                                  min_width=220)
            ui.search = gr.Button(t["search"], variant="primary", elem_id="lib-search",
                                  scale=0, min_width=120)
        with gr.Row():
            with gr.Column(scale=1, min_width=280):
                ui.results = gr.Radio([], label=t["results"].format(n=0),
                                      elem_id="lib-results")
            with gr.Column(scale=2, min_width=300):
                ui.heading = gr.Markdown(elem_id="lib-track")
                ui.player = gr.HTML(elem_id="lib-player")
                ui.top = gr.Label(num_top_classes=5, label=t["top"], visible=False,
                                  elem_id="lib-top")
                ui.hearing = gr.Markdown(elem_id="lib-hearing")
                ui.chart = gr.Image(type="numpy", format="png", show_label=False,
                                    interactive=False, visible=False, elem_id="lib-timeline",
                                    buttons=[])
                ui.segments = gr.Markdown(elem_id="lib-segments")
                ui.similar = gr.Markdown(elem_id="lib-similar")
        ui.show_map = gr.Button(t["map"], elem_id="lib-show-map")
        ui.map = gr.Plot(label=t["map_label"], show_label=False, visible=False,
                         elem_id="lib-map")
    ui.searched = gr.State(False)                 # a search was made: redo it in a new language
    ui.map_on = gr.State(False)
    return ui


def _wire_library(library, ui: SimpleNamespace, lang) -> None:
    """The tab's events; a language change redraws every text, the list, the
    track and the map in the new language."""
    import gradio as gr

    maps = MapFigures(library)
    private = dict(api_visibility="private")
    track_outs = [ui.heading, ui.player, ui.top, ui.hearing, ui.chart, ui.segments, ui.similar]
    filters = [ui.query, ui.genre, ui.heard, ui.note]

    def find(text, label, heard, note, lang_now):
        return find_tracks(library, text, label, heard, note, lang_now), True

    def relabel(lang_now, track_id, text, label, heard, note, searched):
        t = TEXT[lang_now]
        found = gr.update(label=t["results"].format(n=0))
        if searched:
            found = find_tracks(library, text, label, heard, note, lang_now)
            found["value"] = track_id
        genres, heard_choices, notes = _choices(library, lang_now)
        return (gr.update(label=t["tab"]), t["intro"], gr.update(label=t["query"]),
                gr.update(label=t["genre"], choices=genres),
                gr.update(label=t["heard"], choices=heard_choices),
                gr.update(label=t["note"], choices=notes),
                t["search"], found, *show_track(library, track_id, lang_now), t["map"])

    for trigger in (ui.search.click, ui.query.submit, ui.genre.change, ui.heard.change,
                    ui.note.change):
        trigger(find, [*filters, lang], [ui.results, ui.searched], **private)
    ui.results.change(lambda i, lang_now: show_track(library, i, lang_now),
                      [ui.results, lang], track_outs, concurrency_id="library", **private)
    ui.show_map.click(lambda lang_now: (maps.shown(lang_now), True), lang,
                      [ui.map, ui.map_on], concurrency_id="library", **private)
    lang.change(relabel, [lang, ui.results, *filters, ui.searched],
                [ui.tab, ui.intro, ui.query, ui.genre, ui.heard, ui.note, ui.search, ui.results,
                 *track_outs, ui.show_map], show_progress="hidden", **private).then(
        lambda lang_now, on: maps.shown(lang_now) if on else gr.update(), [lang, ui.map_on],
        ui.map, concurrency_id="library", **private)
    # Opening the tab resizes a shown map in the page: one drawn while its tab
    # was hidden (a language switch on the Analyse tab) had no size to draw
    # at. Sending the same figure again would not redraw it (gr.Plot redraws
    # on a new figure only) and would carry the whole figure to the browser.
    ui.tab.select(None, None, None, js=RESIZE_MAP_JS, queue=False, **private)
