"""The Gradio page of ``genrescope serve``: record or upload, top 5, notes,
spectrogram, model switch, language. A thin shell over the server's
:class:`~genrescope.server.service.Service` (the same model pool as the API).

Modules: :mod:`.guard` (only this page's uploads are read), :mod:`.text`
(the EN/ZH texts), :mod:`.render` (a prediction as the page draws it).
Other features plug in with one call each in :func:`build_page` (see the
``# --- hook:`` comments), from modules of their own in this package.
"""

from __future__ import annotations

from pathlib import Path

from ..audio import AUDIO_EXTENSIONS
from ..errors import GenrescopeError
from ..server.service import MAX_ANALYSES, Service, hide_path
from ..server.uploads import safe_extension
from .guard import REFUSED, guarded_blocks, is_page_file
from .insight import insight_section, summary as insight_summary
from .library import library_tab
from .render import render as _render, summary as _summary
from .text import DEMO_NAMES, TEXT

__all__ = ["REFUSED", "build_page", "examples", "is_page_file"]


def examples(service: Service, examples_dir) -> list[str]:
    """The user's clips, or demo clips synthesised into the private folder."""
    if examples_dir:
        folder = Path(examples_dir).expanduser()
        if not folder.is_dir():
            raise GenrescopeError(f"--examples {folder}: no such folder.", status=404)
        return sorted(str(p.resolve()) for p in folder.iterdir()
                      if p.suffix.lower() in AUDIO_EXTENSIONS)[:24]
    import soundfile as sf

    from ..synth import DEMOS

    files = []
    for name, make in DEMOS.items():
        path = Path(service.private.name) / f"{name}.wav"
        sf.write(path, make(20.0, 22050), 22050, subtype="PCM_16")
        files.append(str(path))
    return files


def build_page(service: Service, examples: list[str], library=None):
    """The Gradio page: a thin shell over ``service`` (see module docstring)."""
    import gradio as gr

    from ..plot import figure_to_array, spectrogram_figure

    pool = service.pool
    names = [e.name for e in pool.entries()]
    try:
        initial = pool.entry()
        initial_value = initial.name if initial.name in names else pool.default
        extra = [] if initial.name in names else [(initial.name, pool.default)]
    except GenrescopeError:                       # default model unknown: first usable one
        initial_value = next((e.name for e in pool.entries() if e.available), names[0])
        extra = []

    def model_choices(lang):
        mark = TEXT[lang]["missing"]
        return extra + [(e.name if e.available else f"{e.name}  ✗ {mark}", e.name)
                        for e in pool.entries()]

    def example_labels(lang):
        return [DEMO_NAMES.get(Path(p).stem, (Path(p).stem,) * 2)[lang == "zh"] for p in examples]

    def seconds_choices(lang):
        return [("10", 10), ("30", 30), ("60", 60), (TEXT[lang]["whole"], 0)]

    def analyse(audio, model, seconds, offset, show_spectrogram, lang):
        state, image = {}, None
        try:
            entry = pool.entry(model)
            if not entry.available:
                raise GenrescopeError(entry.reason, status=404)
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
                    image = figure_to_array(spectrogram_figure(pred))
        except GenrescopeError as exc:
            state = {"error": str(hide_path(exc, audio, Path(audio or "").name))}
        return (*_render(state, lang), image, state)

    def relabel(lang, model, state):
        t = TEXT[lang]
        bars, notes, timings = _render(state or {}, lang)
        return (t["intro"], gr.update(label=t["lang"]), gr.update(label=t["audio"]), t["run"],
                gr.update(label=t["model"], choices=model_choices(lang), value=model),
                gr.update(label=t["seconds"], choices=seconds_choices(lang)),
                gr.update(label=t["offset"]), gr.update(label=t["spectrogram"]),
                gr.update(label=t["examples"], sample_labels=example_labels(lang)),
                gr.update(label=t["top"], value=bars), notes, timings)

    t = TEXT["en"]
    with guarded_blocks(examples)(title="genrescope", analytics_enabled=False,
                                   delete_cache=(600, 1800)) as blocks:
        with gr.Row(equal_height=True):
            intro = gr.Markdown(t["intro"])
            lang = gr.Radio([("English", "en"), ("中文", "zh")], value="en", label=t["lang"],
                            scale=0, min_width=220, elem_id="lang")
        with gr.Row():
            with gr.Column():
                audio = gr.Audio(sources=["microphone", "upload"], type="filepath",
                                 label=t["audio"], elem_id="audio")
                run = gr.Button(t["run"], variant="primary", elem_id="run")
                model = gr.Dropdown(model_choices("en"), value=initial_value, label=t["model"],
                                    elem_id="model")
                with gr.Row():
                    seconds = gr.Radio(seconds_choices("en"), value=30, label=t["seconds"],
                                       elem_id="seconds")
                    offset = gr.Number(0, minimum=0, label=t["offset"], elem_id="offset")
                examples_box = gr.Examples(
                    [[p] for p in examples], inputs=[audio], label=t["examples"],
                    example_labels=example_labels("en")
                ).dataset if examples else gr.Markdown(visible=False)
            with gr.Column():
                top = gr.Label(num_top_classes=5, label=t["top"], elem_id="top")
                notes = gr.Markdown(elem_id="notes")
                timings = gr.Markdown(elem_id="timings")
                spectrogram = gr.Checkbox(False, label=t["spectrogram"], elem_id="show-spectrogram")
        image = gr.Image(type="numpy", format="png", show_label=False, interactive=False,
                         visible=False, elem_id="spectrogram")
        state = gr.State({})
        # --- hook: the timeline and "Why?" view (genrescope/page/insight.py)
        insight_section(service, audio=audio, model=model, seconds=seconds, offset=offset,
                        lang=lang, state=state)

        ins = [audio, model, seconds, offset, spectrogram, lang]
        outs = [top, notes, timings, image, state]

        def redraw(event):
            """The language may have changed while the analysis ran: draw the
            result in the language selected now."""
            event.then(lambda lang_now, kept: _render(kept or {}, lang_now), [lang, state],
                       [top, notes, timings], api_visibility="private", queue=False)

        redraw(audio.change(analyse, ins, outs, api_name="classify",
                            concurrency_id="analysis", concurrency_limit=MAX_ANALYSES))
        for trigger in (run.click, model.change, seconds.change, offset.submit):
            redraw(trigger(analyse, ins, outs, api_visibility="private",
                           concurrency_id="analysis"))
        redraw(spectrogram.change(lambda show: gr.update(visible=show), spectrogram, image,
                                  api_visibility="private", queue=False).then(
            analyse, ins, outs, api_visibility="private", concurrency_id="analysis"))
        lang.change(relabel, [lang, model, state],
                    [intro, lang, audio, run, model, seconds, offset, spectrogram, examples_box,
                     top, notes, timings], api_visibility="private", queue=False)
        # --- hook: the Library tab (genrescope/page/library.py), with serve --db
        if library is not None:
            library_tab(library, lang=lang)
    return blocks


