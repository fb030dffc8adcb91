"""The Gradio page of ``genrescope serve``: record or upload, top 5, notes,
spectrogram, model switch, language. A thin shell over the server's
:class:`~genrescope.server.service.Service` (the same model pool as the API).
"""

from __future__ import annotations

import contextlib
import os
from pathlib import Path

from .audio import AUDIO_EXTENSIONS
from .errors import GenrescopeError
from .predict import Prediction
from .server.service import MAX_ANALYSES, Service, hide_path
from .server.uploads import safe_extension


def examples(service: Service, examples_dir) -> list[str]:
    """The user's clips, or demo clips synthesised into the private folder."""
    if examples_dir:
        folder = Path(examples_dir).expanduser()
        if not folder.is_dir():
            raise GenrescopeError(f"--examples {folder}: no such folder.", status=404)
        return sorted(str(p.resolve()) for p in folder.iterdir()
                      if p.suffix.lower() in AUDIO_EXTENSIONS)[:24]
    import soundfile as sf

    from .synth import DEMOS

    files = []
    for name, make in DEMOS.items():
        path = Path(service.private.name) / f"{name}.wav"
        sf.write(path, make(20.0, 22050), 22050, subtype="PCM_16")
        files.append(str(path))
    return files


TEXT = {
    "en": dict(
        intro="## genrescope\nRecord or upload music: the five most likely genres appear at "
              "once. Everything runs on this computer.",
        lang="Language / 语言", audio="Music: record with the microphone, or upload a file",
        run="Analyse", model="Model", missing="weights missing", seconds="Seconds to analyse",
        whole="whole file", offset="Start at (seconds)", top="Top 5 genres",
        spectrogram="Show spectrogram", examples="Example clips (one click)",
        timings="Analysis took {total:.2f} s: decode {decode:.2f} s, features {features:.2f} "
                "s, network {network:.2f} s (model {model}).",
        error="**Error:** {0}"),
    "zh": dict(
        intro="## genrescope 音乐流派识别\n录音或上传音乐，立即显示最可能的五种流派。全部在本机运行。",
        lang="Language / 语言", audio="音乐：用麦克风录音，或上传文件", run="分析", model="模型",
        missing="缺少权重文件", seconds="分析时长（秒）", whole="整个文件", offset="起始位置（秒）",
        top="最可能的五种流派", spectrogram="显示频谱图", examples="示例音频（单击即可）",
        timings="分析用时 {total:.2f} 秒：解码 {decode:.2f} 秒，特征 {features:.2f} 秒，"
                "网络 {network:.2f} 秒（模型 {model}）。",
        error="**错误：** {0}"),
}
WARNINGS_ZH = {
    "silence": "录音（几乎）无声：结果没有意义。",
    "clipping": "{clipped_fraction:.1%} 的采样被削波（满幅）：录音失真，请降低输入音量。",
    "low_sample_rate": "采样率只有 {source_sr} Hz：缺少高频，结果不太可靠。",
    "short": "只有 {duration_s:.1f} 秒音频：更长的录音（最好 10–30 秒）结果更可靠。",
    "non_finite": "{count} 个采样为 NaN 或无穷大，已置为 0。",
    "ambiguous": "最可能的流派只有 {top_probability:.0%}：模型不确定，答案可能是其中几种之一。",
    "not_music": "这听起来不像音乐（语音、噪声、音调或静音？）：给出的任何流派都只是猜测。",
}
DEMO_NAMES = {"string_chords": ("string chords", "弦乐和弦"),
              "drum_groove": ("drum groove", "鼓点律动"), "sine_sweep": ("sine sweep", "正弦扫频")}


def _summary(pred: Prediction) -> dict:
    """What the page keeps of a prediction to redraw it in another language."""
    model = pred.model if pred.precision == "fp32" else f"{pred.model}, {pred.precision}"
    return {"model": model, "timings": dict(pred.timings),
            "top": [(g.name("en"), g.name("zh"), g.probability) for g in pred.top],
            "warnings": [(w.code, w.message, dict(w.details)) for w in pred.warnings]}


def _render(state: dict, lang: str) -> tuple:
    """(bars, notes, timings) of a :func:`_summary` (or ``{"error": ...}``) in ``lang``."""
    t = TEXT[lang]
    if "error" in state:
        return None, t["error"].format(state["error"]), ""
    if not state:
        return None, "", ""
    bars = {(zh if lang == "zh" else en): p for en, zh, p in state["top"]}
    notes = []
    for code, message, details in state["warnings"]:
        with contextlib.suppress(KeyError, ValueError):
            message = WARNINGS_ZH[code].format(**details) if lang == "zh" else message
        notes.append(f"- ⚠️ {message}")
        if code == "not_music":                   # the note, in bold, instead of a genre
            bars, notes[-1] = None, f"**{message}**"
    return bars, "\n".join(notes), t["timings"].format(model=state["model"], **state["timings"])


REFUSED = "Only audio uploaded to this page (or its example clips) can be analysed."


def is_page_file(path, examples: list[str]) -> bool:
    """Whether ``path`` is a file the page may analyse: inside Gradio's upload
    folder, or one of the example clips. Never true for a URL; nothing is
    opened to decide (``/dev/zero`` is refused without being read)."""
    from gradio.utils import get_upload_folder

    if not isinstance(path, (str, os.PathLike)) or "://" in os.fspath(path) \
            or "\0" in os.fspath(path):
        return False
    real = os.path.realpath(path)
    folder = os.path.realpath(get_upload_folder())
    return real.startswith(folder + os.sep) or real in {os.path.realpath(p) for p in examples}


def _client_paths(value) -> list:
    """Every ``path`` a client's input value names (Gradio ``FileData`` dicts)."""
    if isinstance(value, dict):
        found = [value["path"]] if "path" in value else []
        return found + [p for v in value.values() for p in _client_paths(v)]
    if isinstance(value, (list, tuple)):
        return [p for v in value for p in _client_paths(v)]
    return []


def _guarded_blocks(examples: list[str]):
    """``gr.Blocks`` that refuses, before Gradio touches it, any input file that
    is not an upload of this page: no server path, no URL is ever read."""
    import gradio as gr

    class GuardedBlocks(gr.Blocks):
        async def preprocess_data(self, block_fn, inputs, state, explicit_call=False):
            for block, value in zip(block_fn.inputs, inputs):
                paths = _client_paths(value)
                if isinstance(block, gr.Audio) and isinstance(value, str):
                    paths.append(value)
                if any(not is_page_file(p, examples) for p in paths):
                    raise gr.Error(REFUSED, print_exception=False)   # no traceback per probe
            try:
                return await super().preprocess_data(block_fn, inputs, state, explicit_call)
            except gr.Error as exc:            # Gradio's own refusals (a value not among
                exc.print_exception = False    # the choices...): the client's error, no
                raise                          # traceback in the server's log

    return GuardedBlocks


def build_page(service: Service, examples: list[str]):
    """The Gradio page: a thin shell over ``service`` (see module docstring)."""
    import gradio as gr

    from .plot import figure_to_array, spectrogram_figure

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
                state = _summary(pred)
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
    with _guarded_blocks(examples)(title="genrescope", analytics_enabled=False,
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
    return blocks


