"""A prediction as the page shows it: kept as a small summary, drawn in
either language (the language can change after the analysis).

The headline rule: a big genre name only when the answer is confident (no
"ambiguous" note, no "not_music" note); otherwise the top candidates are
named plainly ("outside": music of a genre none of the labels covers, and
"speech_over_music" count as unsure too). Styles the model heard (the
default's) follow on a line of their own, then the voices and instruments
heard with AudioSet's credit. A tagger's scores (``Prediction.score == "tags"``) are
shown as tags, never as a genre headline.
"""

from __future__ import annotations

from ...i18n import warning_text
from ...predict import Prediction
from .text import TEXT

#: Notes after which no genre gets the big headline.
UNSURE_CODES = ("ambiguous", "not_music", "outside", "speech_over_music")


def summary(pred: Prediction) -> dict:
    """What the page keeps of a prediction to redraw it in another language."""
    model = pred.model if pred.precision == "fp32" else f"{pred.model}, {pred.precision}"
    return {"model": model, "timings": dict(pred.timings), "score": pred.score,
            "top": [(g.name("en"), g.name("zh"), g.probability) for g in pred.top],
            "styles": [(g.name("en"), g.name("zh")) for g in pred.styles],
            "heard": [(h.name.en, h.name.zh) for h in pred.heard],
            "warnings": [(w.code, w.message, dict(w.details)) for w in pred.warnings]}


def headline(state: dict, lang: str) -> str:
    """The answer in one line: big when confident, the candidates otherwise."""
    t = TEXT[lang]
    names = [(zh if lang == "zh" else en, p) for en, zh, p in state["top"]]
    if not names:
        return ""
    codes = {code for code, _, _ in state["warnings"]}
    sep = "、" if lang == "zh" else ", "
    candidates = sep.join(f"{n} {p:.0%}" for n, p in names[:3])
    if state.get("score") == "tags":
        return t["tags"].format(candidates=candidates)
    styles = sep.join(zh if lang == "zh" else en for en, zh in state.get("styles", []))
    styles = "\n\n" + t["styles"].format(styles=styles) if styles else ""
    heard = sep.join(zh if lang == "zh" else en for en, zh in state.get("heard", []))
    styles += "\n\n" + t["heard"].format(heard=heard) + "  \n" + t["credit_audioset"] \
        if heard else ""
    if codes & set(UNSURE_CODES):
        return t["unsure"].format(candidates=candidates) + styles
    return t["sure"].format(name=names[0][0], p=names[0][1]) + styles


def render(state: dict, lang: str) -> tuple:
    """(headline, bars, bars' heading, notes, timings) of a :func:`summary`
    (or ``{"error": ...}``) in ``lang``."""
    t = TEXT[lang]
    heading = t["top_tags"] if state.get("score") == "tags" else t["top"]
    if "error" in state:
        return "", None, heading, t["error"].format(state["error"]), ""
    if not state:
        return "", None, heading, "", ""
    bars = {(zh if lang == "zh" else en): p for en, zh, p in state["top"]}
    top_line = headline(state, lang)
    notes = []
    for code, message, details in state["warnings"]:
        message = warning_text(code, message, details, lang)
        notes.append(f"- ⚠️ {message}")
        if code == "not_music":                   # the note, in bold, instead of a genre
            bars, top_line, notes[-1] = None, f"**{message}**", ""
    timings = t["timings"].format(model=state["model"], **state["timings"])
    return top_line, bars, heading, "\n".join(n for n in notes if n), timings
