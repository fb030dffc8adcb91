"""The page's pieces without a browser: warning texts in both languages,
the render of a result (headline rule, tag models), the example clips."""

from __future__ import annotations

import numpy as np
import pytest

from genrescope.audio import audio_from_array, quality_warnings
from genrescope.i18n import WARNINGS_ZH


def _has_cjk(text: str) -> bool:
    return any("\u4e00" <= ch <= "\u9fff" for ch in text)


def test_every_quality_warning_has_chinese_text():
    """A short, clipped, low-rate clip with a NaN: each note made in audio.py
    reads in Chinese for lang="zh" and in English otherwise."""
    sr = 8000
    y = np.concatenate([np.ones(4000, np.float32), np.zeros(4000, np.float32)])
    y[10] = np.nan
    audio = audio_from_array(y, sr, 16000, duration_s=None)
    warnings = quality_warnings(audio)
    codes = {w.code for w in warnings}
    assert {"clipping", "low_sample_rate", "short", "non_finite"} <= codes
    for w in warnings:
        assert w.code in WARNINGS_ZH
        zh, en = w.text("zh"), w.text("en")
        assert _has_cjk(zh) and zh != w.message, w.code
        assert en == w.message and not _has_cjk(en)
        assert w.to_dict("zh") == {"code": w.code, "message": zh}


def test_silence_warning_in_chinese():
    audio = audio_from_array(np.zeros(16000 * 5, np.float32), 16000, 16000, duration_s=None)
    (w,) = [w for w in quality_warnings(audio) if w.code == "silence"]
    assert w.text("zh") == WARNINGS_ZH["silence"]


@pytest.mark.parametrize("code, details", [
    ("ambiguous", {"top_probability": 0.31, "unsure_below": 0.6}),
    ("not_music", {"not_music_probability": 0.9}),
])
def test_model_notes_in_chinese(code, details):
    from genrescope.audio import AudioWarning

    w = AudioWarning(code, "english", details)
    assert _has_cjk(w.text("zh")) and w.text("en") == "english"
