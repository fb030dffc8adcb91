"""The page's insight views under the genre bars: the genres over time
(:attr:`Prediction.timeline <genrescope.predict.Prediction.timeline>` as a chart
and as merged segments) and the "Why?" view (the occlusion heat map of
:mod:`genrescope.explain`, run only when asked, with a bounded number of forward passes).

The page calls :func:`insight_section` once, inside its ``gr.Blocks``, where
the views should appear; it keeps the timeline in the page's result state
through :func:`summary`. Nothing here runs a second pipeline: the analysis
goes through the server's :class:`~genrescope.server.service.Service` and the
explanation through :func:`genrescope.explain.explain_prediction`.
"""

from __future__ import annotations

import threading
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from ...errors import GenrescopeError
from ...explain import DEFAULT_BUDGET, explain_prediction
from ...labels import Genre
from ..service import Service, hide_path
from ...timeline import Timeline, TimelineChunk

LANGS = ("en", "zh")
#: Most forward passes the page offers for one explanation (the API allows more).
MAX_PAGE_BUDGET = 200

TEXT = {
    "en": dict(
        timeline="Genres over time", segments="**When:** {0}",
        why="Why? (what in the spectrogram made the model say it)",
        genre="Genre to explain", top_genre="the top genre", run="Explain",
        budget="Detail: forward passes (more: finer map, slower; at least one per chunk)",
        legend="Grey: the spectrogram the model saw (time in seconds, pitch up). **Red** cells: "
               "silencing them lowers the genre's probability, so they made the model say it; "
               "**blue**: they spoke against it. The yellow box is the strongest cell.",
        cost="{passes} forward passes (budget {budget}) in {seconds:.1f} s.",
        first="Analyse a clip first.", error="**Error:** {0}"),
    "zh": dict(
        timeline="流派随时间的变化", segments="**时间段：** {0}",
        why="为什么？（频谱图中哪些部分让模型这样判断）",
        genre="要解释的流派", top_genre="最可能的流派", run="解释",
        budget="细节：前向计算次数（越多越精细、越慢；每个片段至少一次）",
        legend="灰色：模型看到的频谱图（横轴为秒，纵轴为音高）。**红色**格子：静音后该流派的概率下降，"
               "说明是它们让模型这样判断；**蓝色**：它们起反作用。黄框为影响最大的格子。",
        cost="{passes} 次前向计算（上限 {budget}），用时 {seconds:.1f} 秒。",
        first="请先分析一段音频。", error="**错误：** {0}"),
}


def summary(pred) -> dict:
    """What the page's result state keeps for these views (merged into its summary):
    the timeline as plain values (Gradio hashes the state to see it change)."""
    tl = pred.timeline
    if tl is None:
        return {}
    return {"timeline": {
        "genres": [(g.id, g.en, g.zh) for g in tl.genres], "start_s": tl.start_s,
        "end_s": tl.end_s, "chunks": [(c.start_s, c.end_s, c.probabilities.tolist(),
                                       c.input_start_s, c.input_end_s) for c in tl.chunks]}}


def _timeline(kept: dict | None) -> Timeline | None:
    """The :class:`Timeline` :func:`summary` kept, or ``None``."""
    tl = (kept or {}).get("timeline")
    if not tl or not tl["chunks"]:
        return None
    return Timeline([Genre(*g) for g in tl["genres"]],
                    [TimelineChunk(a, b, np.asarray(p, dtype=np.float32), c, d)
                     for a, b, p, c, d in tl["chunks"]], tl["start_s"], tl["end_s"])


@dataclass
class Insight:
    """The components :func:`insight_section` added (for the page and its tests)."""

    timeline: object
    segments: object
    why: object
    genre: object
    budget: object
    run: object
    image: object
    notes: object


def _timeline_views(kept: dict | None, lang: str) -> tuple:
    """(chart, segments text) of the timeline in the result state ``kept``."""
    import gradio as gr

    from ...plot import figure_to_array, timeline_figure

    timeline = _timeline(kept)
    if timeline is None:
        return gr.update(value=None, visible=False), ""
    t = TEXT[lang]
    chart = figure_to_array(timeline_figure(timeline, lang=lang, title=t["timeline"]))
    return gr.update(value=chart, visible=True), t["segments"].format(timeline.describe(lang))


def _genre_choices(kept: dict | None, lang: str) -> list:
    """("the top genre", "") then the top genres of the result, by label id."""
    kept = kept or {}
    choices = [(TEXT[lang]["top_genre"], "")]
    timeline = _timeline(kept)
    if timeline is not None:
        by_en = {g.name("en"): g for g in timeline.genres}
        choices += [(g.name(lang), g.id) for g in (by_en.get(en) for en, _, _ in
                                                   kept.get("top", [])) if g is not None]
    return choices


def insight_section(service: Service, *, audio, model, seconds, offset, lang, state) -> Insight:
    """Add the timeline chart, its segments and the "Why?" view here.

    Parameters
    ----------
    service : Service
        The server's analysis service (its model pool and limits).
    audio, model, seconds, offset, lang : gradio components
        The page's inputs (the "Why?" view explains the same window of the same file).
    state : gr.State
        The page's result state: a summary holding :func:`summary`'s keys.

    Returns
    -------
    Insight
    """
    import gradio as gr

    from ...plot import explanation_figure, figure_to_array

    t = TEXT["en"]
    one_at_a_time = threading.Lock()           # the occlusion passes, as in the API
    timeline = gr.Image(type="numpy", format="png", show_label=False, interactive=False,
                        buttons=[], visible=False, elem_id="timeline")  # no icons on the legend
    segments = gr.Markdown(elem_id="segments")
    with gr.Accordion(t["why"], open=False, elem_id="why") as why:
        with gr.Row():
            genre = gr.Dropdown(_genre_choices({}, "en"), value="", label=t["genre"],
                                elem_id="why-genre")
            run = gr.Button(t["run"], elem_id="why-run", scale=0, min_width=120)
        budget = gr.Slider(1, MAX_PAGE_BUDGET, value=DEFAULT_BUDGET, step=1, label=t["budget"],
                           elem_id="why-budget")
        image = gr.Image(type="numpy", format="png", show_label=False, interactive=False,
                         buttons=[], visible=False, elem_id="why-image")
        notes = gr.Markdown(t["legend"], elem_id="why-notes")
    pictures = gr.State({})                    # the explanation drawn in each language

    def explain(path, model_name, seconds_value, offset_value, wanted, passes, lang_now):
        t = TEXT[lang_now]
        if not path:
            return gr.update(visible=False), t["first"], {}
        try:
            pred = service.analyse(path, model_name, offset_s=float(offset_value or 0),
                                   duration_s=float(seconds_value or 0))
            n_chunks = len(pred.chunk_probabilities)
            if n_chunks > MAX_PAGE_BUDGET:
                raise GenrescopeError(f"This window has {n_chunks} chunks;"
                                      f" the page explains at most {MAX_PAGE_BUDGET}: choose "
                                      "fewer seconds to analyse.")
            clf = service.pool.get(model_name)
            with one_at_a_time:
                result = explain_prediction(clf, pred, genre=wanted or None,
                                            budget=_budget(passes, n_chunks))
        except GenrescopeError as exc:
            shown = hide_path(exc, path, Path(path).name)
            return gr.update(visible=False), t["error"].format(shown), {}
        kept = {lang: figure_to_array(explanation_figure(result, lang=lang)) for lang in LANGS}
        kept["cost"] = dict(passes=result.n_passes, budget=result.budget,
                            seconds=result.seconds)
        return (gr.update(value=kept[lang_now], visible=True), _why_notes(kept, lang_now),
                kept)

    def relabel(lang_now, kept, drawn, chosen):
        t = TEXT[lang_now]
        choices = _genre_choices(kept, lang_now)
        return (*_timeline_views(kept, lang_now), gr.update(label=t["why"]),
                gr.update(label=t["genre"], choices=choices,
                          value=chosen if chosen in {v for _, v in choices} else ""),
                gr.update(label=t["budget"]), t["run"],
                gr.update(value=drawn.get(lang_now)) if drawn else gr.update(),
                _why_notes(drawn, lang_now))

    def new_result(kept, lang_now):
        return (*_timeline_views(kept, lang_now),
                gr.update(choices=_genre_choices(kept, lang_now), value=""),
                gr.update(value=None, visible=False), TEXT[lang_now]["legend"], {})

    state.change(new_result, [state, lang], [timeline, segments, genre, image, notes, pictures],
                 api_visibility="private", queue=False)
    lang.change(relabel, [lang, state, pictures, genre],
                [timeline, segments, why, genre, budget, run, image, notes],
                api_visibility="private", queue=False)
    run.click(explain, [audio, model, seconds, offset, genre, budget, lang],
              [image, notes, pictures],
              api_visibility="private", concurrency_id="analysis")
    return Insight(timeline, segments, why, genre, budget, run, image, notes)


def _budget(passes, n_chunks: int) -> int:
    """The slider's passes as a budget: a whole number from one per chunk to
    :data:`MAX_PAGE_BUDGET` (a client's non-number or NaN: the default)."""
    try:
        wanted = float(passes)
    except (TypeError, ValueError):
        wanted = DEFAULT_BUDGET
    if not np.isfinite(wanted):
        wanted = DEFAULT_BUDGET
    return int(min(max(round(wanted), n_chunks, 1), MAX_PAGE_BUDGET))


def _why_notes(drawn: dict | None, lang: str) -> str:
    """The colour legend, and the cost when an explanation is drawn."""
    t = TEXT[lang]
    if drawn and "cost" in drawn:
        return t["legend"] + "\n\n" + t["cost"].format(**drawn["cost"])
    return t["legend"]
