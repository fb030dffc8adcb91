"""The Gradio page of ``genrescope serve``: record or upload, top 5, notes,
spectrogram, model switch, language. A thin shell over the server's
:class:`~genrescope.server.service.Service` (the same model pool as the API).

Two tabs: "Analyse" (record or upload, the result, the settings, the
examples) and, with ``serve --db``, "Library" (:mod:`.library`), announced
by a line under the title.

Modules: :mod:`.guard` (only this page's uploads are read), :mod:`.text`
(the EN/ZH texts), :mod:`.render` (a prediction as the page draws it),
:mod:`.style` (the page's CSS and its ``<head>`` script: the microphone
records music, Gradio's own words follow the language switch).
Other features plug in with one call each in :func:`_analyse_tab` and
:func:`build_page` (see the ``# --- hook:`` comments), from modules of their
own in this package.
"""

from __future__ import annotations

import json
from dataclasses import dataclass, field
from pathlib import Path
from types import SimpleNamespace

from ...audio import AUDIO_EXTENSIONS
from ...errors import GenrescopeError
from ..service import MAX_ANALYSES, Service, hide_path
from ..uploads import safe_extension
from .guard import REFUSED, guarded_blocks, is_page_file
from .insight import insight_section, summary as insight_summary
from .library import library_tab
from .render import render as _render, summary as _summary
from .style import PAGE_CSS, PAGE_HEAD
from .text import TEXT

__all__ = ["PAGE_CSS", "PAGE_HEAD", "REFUSED", "build_page", "examples", "is_page_file"]


#: The shipped example clips: short excerpts of freely licensed recordings,
#: their names and credits in ``examples.json``, licences beside them.
EXAMPLES_DIR = Path(__file__).resolve().parents[2] / "assets" / "examples"


def examples(service: Service, examples_dir) -> list[str]:
    """The user's clips (``--examples``), else the shipped example clips."""
    folder = Path(examples_dir).expanduser() if examples_dir else EXAMPLES_DIR
    if not folder.is_dir():
        raise GenrescopeError(f"--examples {folder}: no such folder.", status=404)
    return sorted(str(p.resolve()) for p in folder.iterdir()
                  if p.suffix.lower() in AUDIO_EXTENSIONS)[:24]


def example_info(paths: list[str]) -> dict:
    """``{path: {"en", "zh", "credit"}}`` from each clip folder's ``examples.json``;
    a clip without an entry is named by its file name."""
    info = {}
    for path in paths:
        meta = Path(path).parent / "examples.json"
        table = json.loads(meta.read_text(encoding="utf-8")) if meta.is_file() else {}
        stem = Path(path).stem
        info[path] = {"en": stem, "zh": stem, "credit": ""} | table.get(Path(path).name, {})
    return info


@dataclass
class Models:
    """The page's model choices: usable names, names needing a download, and
    the default given as a folder, offered by name (``aliases``)."""

    usable: list = field(default_factory=list)
    missing: list = field(default_factory=list)
    aliases: dict = field(default_factory=dict)
    initial: str | None = None

    @classmethod
    def of(cls, pool) -> Models:
        m = cls([e.name for e in pool.entries() if e.available],
                [e.name for e in pool.entries() if not e.available])
        try:
            entry = pool.entry()
            if not entry.available:
                raise GenrescopeError(entry.reason)
            if entry.name not in m.usable:
                m.aliases[entry.name] = pool.default
            m.initial = entry.name
        except GenrescopeError:                   # default model unusable: first usable one
            m.initial = m.usable[0] if m.usable else None
        return m

    @property
    def choices(self) -> list:
        return [*self.aliases, *self.usable]

    def help(self, lang: str) -> str:
        return f"### {TEXT[lang]['help_title']}\n" + TEXT[lang]["help"].format(
            names=", ".join(self.missing))

    def more(self, lang: str) -> str:
        return TEXT[lang]["more_models"].format(n=len(self.missing)) if self.missing else ""


def seconds_choices(lang: str) -> list:
    return [("10", 10), ("30", 30), ("60", 60), (TEXT[lang]["whole"], 0)]


def credits(info: dict, lang: str) -> str:
    shown = [v["credit"] for v in info.values() if v["credit"]]
    return TEXT[lang]["credits"].format("; ".join(shown)) if shown else ""


def library_line(library, lang: str) -> str:
    """The line under the title saying a library is loaded (``serve --db``)."""
    if library is None:
        return ""
    return TEXT[lang]["library_loaded"].format(n=len(library))   # one COUNT(*)


def build_page(service: Service, examples: list[str], library=None):
    """The Gradio page: a thin shell over ``service`` (see module docstring).

    Layout: the title, the language and, with a library, a line announcing
    it; then the tabs "Analyse" and "Library" (without a library, the
    Analyse part alone). "Analyse": the input (microphone, file upload) then
    the result, side by side on a wide screen and one under the other on a
    phone, so the answer comes right after the recording; the settings and
    examples below them.
    """
    import gradio as gr

    models, info = Models.of(service.pool), example_info(examples)
    t = TEXT["en"]
    with guarded_blocks(examples)(title="genrescope", analytics_enabled=False,
                                  delete_cache=(600, 1800)) as blocks:
        with gr.Row(equal_height=True):               # a phone: the language goes below
            with gr.Column(scale=4, min_width=300):
                intro = gr.Markdown(t["intro"], elem_id="intro")
                db_line = gr.Markdown(library_line(library, "en"), elem_id="db-line",
                                      visible=library is not None)
            with gr.Column(scale=0, min_width=200):
                lang = gr.Radio([("English", "en"), ("中文", "zh")], value="en",
                                label=t["lang"], elem_id="lang")
        if library is None:                           # one page: no lone tab header
            with gr.Column(elem_id="analyse-tab") as tab:
                ui = _analyse_tab(service, models, examples, info, lang)
        else:
            with gr.Tabs(elem_id="tabs"):
                with gr.Tab(t["analyse_tab"], elem_id="analyse-tab") as tab:
                    ui = _analyse_tab(service, models, examples, info, lang)
                # --- hook: the Library tab (genrescope/server/page/library.py), with --db
                library_tab(library, lang=lang)
        ui.tab, ui.intro, ui.db_line, ui.lang = tab, intro, db_line, lang
        _wire(ui, _analyse_fn(service, models, examples), models, info, library,
              _preparing_fn(service.pool, models))
    return blocks


def _analyse_tab(service, models: Models, examples: list, info: dict, lang) -> SimpleNamespace:
    """The components of the "Analyse" tab, by name."""
    import gradio as gr

    t, ui = TEXT["en"], SimpleNamespace()
    with gr.Row():
        with gr.Column(min_width=320):
            ui.audio = gr.Audio(sources=["microphone"], type="filepath", label=t["audio"],
                                elem_id="audio")
            # Gradio's Audio upload only takes files the browser calls audio/*
            # (Chrome calls .webm video/webm): uploads go through a File
            # component that checks the extensions genrescope decodes
            ui.upload = gr.File(file_types=list(AUDIO_EXTENSIONS), type="filepath",
                                label=t["upload"], elem_id="upload", height=110)
            ui.run = gr.Button(t["run"], variant="secondary", elem_id="run", size="sm")
        with gr.Column(min_width=320):
            ui.top_line = gr.Markdown(elem_id="headline")
            ui.top = gr.Label(num_top_classes=5, label=t["top"], elem_id="top",
                              show_heading=False)    # the headline rule is ours (#headline)
            ui.notes = gr.Markdown(elem_id="notes")
            ui.timings = gr.Markdown(elem_id="timings")
    with gr.Row():
        with gr.Column(min_width=320):
            ui.model = gr.Dropdown(models.choices, value=models.initial, label=t["model"],
                                   elem_id="model")
            ui.more = gr.Markdown(models.more("en"), elem_id="more-models")
            with gr.Row():
                ui.seconds = gr.Radio(seconds_choices("en"), value=30, label=t["seconds"],
                                      elem_id="seconds")
                ui.offset = gr.Number(0, minimum=0, label=t["offset"], elem_id="offset")
            ui.spectrogram = gr.Checkbox(False, label=t["spectrogram"],
                                         elem_id="show-spectrogram")
        with gr.Column(min_width=320):
            # the clips are files: they load into the upload box, as an upload would
            ui.examples = gr.Examples(
                [[p] for p in examples], inputs=[ui.upload], label=t["examples"],
                example_labels=[info[p]["en"] for p in examples]
            ).dataset if examples else gr.Markdown(visible=False)
            ui.credit = gr.Markdown(credits(info, "en"), elem_id="credits")
    ui.image = gr.Image(type="numpy", format="png", show_label=False, interactive=False, buttons=[],
                        visible=False, elem_id="spectrogram")
    ui.state = gr.State({})
    # --- hook: the timeline and "Why?" view (genrescope/server/page/insight.py)
    insight_section(service, audio=ui.audio, model=ui.model, seconds=ui.seconds,
                    offset=ui.offset, lang=lang, state=ui.state)
    ui.help = gr.Markdown(models.help("en"), elem_id="models-help",
                          visible=bool(models.missing))
    return ui


def _analyse_fn(service: Service, models: Models, examples: list):
    """The page's analysis: (headline, bars, notes, timings, picture, state)."""
    pool = service.pool

    def analyse(audio, model, seconds, offset, show_spectrogram, lang):
        from ...plot import figure_to_array, spectrogram_figure

        state, image = {}, None
        try:
            model = models.aliases.get(model, model or models.initial)
            if model not in models.usable and model not in models.aliases.values():
                raise GenrescopeError(pool.public_text(pool.entry(model).reason or
                                                       f"{model}: not available."), status=404)
            if not audio:
                pool.get(model)                   # load it now: the first analysis is quicker
            elif not is_page_file(audio, examples):
                raise GenrescopeError(REFUSED, status=403)
            else:
                pred = service.analyse(audio, model, offset_s=float(offset or 0),
                                       duration_s=float(seconds or 0))
                service.keep(audio, safe_extension(audio), pred.to_dict(lang))
                state = _summary(pred) | insight_summary(pred)
                if show_spectrogram:              # ~1 s for 30 s of audio: only on demand
                    image = figure_to_array(spectrogram_figure(pred, lang=lang))
        except GenrescopeError as exc:
            state = {"error": pool.public_text(str(hide_path(exc, audio, Path(audio or "").name)))}
        top_line, bars, _, notes, timings = _render(state, lang)
        return top_line, bars, notes, timings, image, state   # the heading: show(), next

    return analyse


def _show(state, lang):
    """(headline, bars, notes, timings) outputs of a kept result."""
    import gradio as gr

    top_line, bars, heading, notes, timings = _render(state or {}, lang)
    return top_line, gr.update(value=bars, label=heading), notes, timings


def _preparing_fn(pool, models: Models):
    """The headline while a model not loaded yet is being prepared (else unchanged)."""
    import gradio as gr

    def preparing(model, lang):
        model = models.aliases.get(model, model or models.initial)
        try:
            loaded = pool.is_loaded(pool.entry(model))
        except (GenrescopeError, OSError, AttributeError):
            return gr.update()                    # the analysis says what is wrong
        return gr.update() if loaded else TEXT[lang]["preparing"].format(model=model)

    return preparing


def _wire(ui: SimpleNamespace, analyse, models: Models, info: dict, library,
          preparing) -> None:
    """The events of the page: analyse on every input change, redraw on a
    language change."""
    import gradio as gr

    ins = [ui.audio, ui.model, ui.seconds, ui.offset, ui.spectrogram, ui.lang]
    outs = [ui.top_line, ui.top, ui.notes, ui.timings, ui.image, ui.state]
    shown = [ui.top_line, ui.top, ui.notes, ui.timings]
    private = dict(api_visibility="private")

    def redraw(event):
        """The language may have changed while the analysis ran: draw the
        result in the language selected now."""
        event.then(_show, [ui.state, ui.lang], shown, queue=False, **private)

    def audio_label(path, lang):
        return TEXT[lang]["audio_file" if path else "audio"]

    # an upload or an example clip: the player shows it, labelled so; its change analyses
    # (an example clip comes with the upload box's first label: set it again)
    ui.upload.change(lambda path, lang: (gr.update(value=path, label=audio_label(path, lang)),
                                         gr.update(label=TEXT[lang]["upload"])),
                     [ui.upload, ui.lang], [ui.audio, ui.upload], queue=False, **private)
    ui.audio.clear(lambda lang: (None, gr.update(label=audio_label(None, lang))),
                   ui.lang, [ui.upload, ui.audio], queue=False, **private)
    redraw(ui.audio.change(analyse, ins, outs, api_name="classify",
                           concurrency_id="analysis", concurrency_limit=MAX_ANALYSES))
    for trigger in (ui.run.click, ui.seconds.change, ui.offset.change):
        redraw(trigger(analyse, ins, outs, concurrency_id="analysis",
                       trigger_mode="always_last", **private))
    # a model's first use loads it (seconds): the headline says so meanwhile
    redraw(ui.model.change(preparing, [ui.model, ui.lang], ui.top_line, queue=False,
                           **private).then(analyse, ins, outs, concurrency_id="analysis",
                                           trigger_mode="always_last", **private))
    redraw(ui.spectrogram.change(lambda on: gr.update(visible=on), ui.spectrogram, ui.image,
                                 queue=False, **private).then(
        analyse, ins, outs, concurrency_id="analysis", **private))

    def relabel(lang, state, uploaded):
        t = TEXT[lang]
        tab = gr.update() if library is None else gr.update(label=t["analyse_tab"])
        return (t["intro"], library_line(library, lang), tab,
                gr.update(label=t["lang"]), gr.update(label=audio_label(uploaded, lang)),
                gr.update(label=t["upload"]), t["run"], gr.update(label=t["model"]),
                models.more(lang), models.help(lang),
                gr.update(label=t["seconds"], choices=seconds_choices(lang)),
                gr.update(label=t["offset"]), gr.update(label=t["spectrogram"]),
                gr.update(label=t["examples"], sample_labels=[v[lang] for v in info.values()]),
                credits(info, lang), *_show(state, lang))

    ui.lang.change(relabel, [ui.lang, ui.state, ui.upload],
                   [ui.intro, ui.db_line, ui.tab, ui.lang, ui.audio, ui.upload, ui.run,
                    ui.model, ui.more, ui.help, ui.seconds, ui.offset, ui.spectrogram,
                    ui.examples, ui.credit, *shown], queue=False, **private)
    # Gradio's own words (Drop File Here, Record...) follow the switch (see .style)
    ui.lang.change(None, ui.lang, None, js="(lang) => { window.genrescopeLang?.(lang); }",
                   queue=False, **private)
