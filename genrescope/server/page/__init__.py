"""The Gradio page of ``genrescope serve``: record or upload, top 5, notes,
spectrogram, model switch, language. A thin shell over the server's
:class:`~genrescope.server.service.Service` (the same model pool as the API).

Modules: :mod:`.guard` (only this page's uploads are read), :mod:`.text`
(the EN/ZH texts), :mod:`.render` (a prediction as the page draws it).
Other features plug in with one call each in :func:`build_page` (see the
``# --- hook:`` comments), from modules of their own in this package.
"""

from __future__ import annotations

import json
from pathlib import Path

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


def build_page(service: Service, examples: list[str], library=None):
    """The Gradio page: a thin shell over ``service`` (see module docstring).

    Layout: the input (microphone, file upload) then the result, side by side
    on a wide screen and one under the other on a phone, so the answer comes
    right after the recording; the settings and examples below them.
    """
    import gradio as gr

    from ...plot import figure_to_array, spectrogram_figure

    pool = service.pool
    usable = [e.name for e in pool.entries() if e.available]
    missing = [e.name for e in pool.entries() if not e.available]
    aliases = {}                                  # a default given as a folder: by name only
    try:
        initial = pool.entry()
        if not initial.available:
            raise GenrescopeError(initial.reason)
        if initial.name not in usable:
            aliases[initial.name] = pool.default
        initial_value = initial.name
    except GenrescopeError:                       # default model unusable: first usable one
        initial_value = usable[0] if usable else None
    choices = [*aliases, *usable]
    info = example_info(examples)

    def example_labels(lang):
        return [info[p][lang] for p in examples]

    def credits(lang):
        shown = [info[p]["credit"] for p in examples if info[p]["credit"]]
        return TEXT[lang]["credits"].format("; ".join(shown)) if shown else ""

    def models_help(lang):
        return f"### {TEXT[lang]['help_title']}\n" + TEXT[lang]["help"].format(
            names=", ".join(missing))

    def more_models(lang):
        return TEXT[lang]["more_models"].format(n=len(missing)) if missing else ""

    def seconds_choices(lang):
        return [("10", 10), ("30", 30), ("60", 60), (TEXT[lang]["whole"], 0)]

    def analyse(audio, model, seconds, offset, show_spectrogram, lang):
        state, image = {}, None
        try:
            model = aliases.get(model, model or initial_value)
            if model not in usable and model not in aliases.values():
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

    def show(state, lang):
        """(headline, bars, notes, timings) outputs of a kept result."""
        top_line, bars, heading, notes, timings = _render(state or {}, lang)
        return top_line, gr.update(value=bars, label=heading), notes, timings

    def relabel(lang, model, state):
        t = TEXT[lang]
        return (t["intro"], gr.update(label=t["lang"]), gr.update(label=t["audio"]),
                gr.update(label=t["upload"]), t["run"], gr.update(label=t["model"]),
                more_models(lang), models_help(lang),
                gr.update(label=t["seconds"], choices=seconds_choices(lang)),
                gr.update(label=t["offset"]), gr.update(label=t["spectrogram"]),
                gr.update(label=t["examples"], sample_labels=example_labels(lang)),
                credits(lang), *show(state, lang))

    t = TEXT["en"]
    with guarded_blocks(examples)(title="genrescope", analytics_enabled=False,
                                  delete_cache=(600, 1800)) as blocks:
        with gr.Row(equal_height=True):               # a phone: the language goes below
            with gr.Column(scale=4, min_width=300):
                intro = gr.Markdown(t["intro"], elem_id="intro")
            with gr.Column(scale=0, min_width=200):
                lang = gr.Radio([("English", "en"), ("中文", "zh")], value="en",
                                label=t["lang"], elem_id="lang")
        with gr.Row():
            with gr.Column(min_width=320):
                audio = gr.Audio(sources=["microphone"], type="filepath", label=t["audio"],
                                 elem_id="audio")
                # Gradio's Audio upload only takes files the browser calls audio/*
                # (Chrome calls .webm video/webm): uploads go through a File
                # component that checks the extensions genrescope decodes
                upload = gr.File(file_types=list(AUDIO_EXTENSIONS), type="filepath",
                                 label=t["upload"], elem_id="upload", height=110)
                run = gr.Button(t["run"], variant="secondary", elem_id="run", size="sm")
            with gr.Column(min_width=320):
                top_line = gr.Markdown(elem_id="headline")
                top = gr.Label(num_top_classes=5, label=t["top"], elem_id="top",
                               show_heading=False)    # the headline rule is ours (#headline)
                notes = gr.Markdown(elem_id="notes")
                timings = gr.Markdown(elem_id="timings")
        with gr.Row():
            with gr.Column(min_width=320):
                model = gr.Dropdown(choices, value=initial_value, label=t["model"],
                                    elem_id="model")
                more = gr.Markdown(more_models("en"), elem_id="more-models")
                with gr.Row():
                    seconds = gr.Radio(seconds_choices("en"), value=30, label=t["seconds"],
                                       elem_id="seconds")
                    offset = gr.Number(0, minimum=0, label=t["offset"], elem_id="offset")
                spectrogram = gr.Checkbox(False, label=t["spectrogram"],
                                          elem_id="show-spectrogram")
            with gr.Column(min_width=320):
                examples_box = gr.Examples(
                    [[p] for p in examples], inputs=[audio], label=t["examples"],
                    example_labels=example_labels("en")
                ).dataset if examples else gr.Markdown(visible=False)
                credit = gr.Markdown(credits("en"), elem_id="credits")
        image = gr.Image(type="numpy", format="png", show_label=False, interactive=False,
                         visible=False, elem_id="spectrogram")
        state = gr.State({})
        # --- hook: the timeline and "Why?" view (genrescope/server/page/insight.py)
        insight_section(service, audio=audio, model=model, seconds=seconds, offset=offset,
                        lang=lang, state=state)
        help_box = gr.Markdown(models_help("en"), elem_id="models-help", visible=bool(missing))

        ins = [audio, model, seconds, offset, spectrogram, lang]
        outs = [top_line, top, notes, timings, image, state]

        def redraw(event):
            """The language may have changed while the analysis ran: draw the
            result in the language selected now."""
            event.then(show, [state, lang], [top_line, top, notes, timings],
                       api_visibility="private", queue=False)

        upload.upload(lambda path: path, upload, audio, api_visibility="private",
                      queue=False)                # the player shows it; its change analyses
        redraw(audio.change(analyse, ins, outs, api_name="classify",
                            concurrency_id="analysis", concurrency_limit=MAX_ANALYSES))
        for trigger in (run.click, model.change, seconds.change, offset.change):
            redraw(trigger(analyse, ins, outs, api_visibility="private",
                           concurrency_id="analysis", trigger_mode="always_last"))
        redraw(spectrogram.change(lambda show_it: gr.update(visible=show_it), spectrogram,
                                  image, api_visibility="private", queue=False).then(
            analyse, ins, outs, api_visibility="private", concurrency_id="analysis"))
        lang.change(relabel, [lang, model, state],
                    [intro, lang, audio, upload, run, model, more, help_box, seconds, offset,
                     spectrogram, examples_box, credit, top_line, top, notes, timings],
                    api_visibility="private", queue=False)
        # --- hook: the Library tab (genrescope/server/page/library.py), with serve --db
        if library is not None:
            library_tab(library, lang=lang)
    return blocks
