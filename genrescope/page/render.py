"""A prediction as the page shows it: kept as a small summary, drawn in
either language (the language can change after the analysis)."""

from __future__ import annotations

from ..i18n import warning_text
from ..predict import Prediction
from .text import TEXT


def summary(pred: Prediction) -> dict:
    """What the page keeps of a prediction to redraw it in another language."""
    model = pred.model if pred.precision == "fp32" else f"{pred.model}, {pred.precision}"
    return {"model": model, "timings": dict(pred.timings),
            "top": [(g.name("en"), g.name("zh"), g.probability) for g in pred.top],
            "warnings": [(w.code, w.message, dict(w.details)) for w in pred.warnings]}


def render(state: dict, lang: str) -> tuple:
    """(bars, notes, timings) of a :func:`summary` (or ``{"error": ...}``) in ``lang``."""
    t = TEXT[lang]
    if "error" in state:
        return None, t["error"].format(state["error"]), ""
    if not state:
        return None, "", ""
    bars = {(zh if lang == "zh" else en): p for en, zh, p in state["top"]}
    notes = []
    for code, message, details in state["warnings"]:
        message = warning_text(code, message, details, lang)
        notes.append(f"- ⚠️ {message}")
        if code == "not_music":                   # the note, in bold, instead of a genre
            bars, notes[-1] = None, f"**{message}**"
    return bars, "\n".join(notes), t["timings"].format(model=state["model"], **state["timings"])
