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


# ------------------------------------------------------------- headline rule
def _state(top, codes=(), score="probability"):
    return {"model": "m", "score": score, "timings": {k: 0.1 for k in
                                                      ("total", "decode", "features", "network")},
            "top": [(n, n + "zh", p) for n, p in top],
            "warnings": [(c, c, {"top_probability": 0.3}) for c in codes]}


def test_headline_big_only_when_sure():
    from genrescope.server.page.render import headline, render

    sure = _state([("Jazz", 0.9), ("Blues", 0.05)])
    assert headline(sure, "en").startswith("## Jazz")
    unsure = _state([("Jazz", 0.31), ("Blues", 0.22), ("Rock", 0.15)], ["ambiguous"])
    text = headline(unsure, "en")
    assert "##" not in text and text.startswith("**Not sure.**")
    assert "Jazz 31%" in text and "Blues 22%" in text and "Rock 15%" in text
    assert "##" not in headline(_state([("Jazz", 0.9)], ["not_music"]), "en")
    top_line, bars, _, notes, _ = render(_state([("Jazz", 0.9)], ["not_music"]), "en")
    assert bars is None and "##" not in top_line          # the note replaces the answer
    assert headline(sure, "zh").startswith("## Jazzzh")


def test_styles_follow_the_genre_in_either_language():
    from genrescope.server.page.render import headline

    sure = _state([("Rock", 0.8)]) | {"styles": [("Hard rock", "硬摇滚"), ("Punk", "朋克")]}
    assert headline(sure, "en").endswith("Styles: Hard rock, Punk")
    assert headline(sure, "zh").endswith("风格：硬摇滚、朋克")
    unsure = _state([("Rock", 0.4)], ["ambiguous"]) | {"styles": [("Punk", "朋克")]}
    text = headline(unsure, "en")
    assert text.startswith("**Not sure.**") and "Styles: Punk" in text
    assert "Styles" not in headline(_state([("Rock", 0.8)]), "en")


def test_tags_are_labelled_tags():
    from genrescope.server.page.render import headline, render

    state = _state([("Rock", 0.8), ("Guitar", 0.7), ("Male", 0.6)], score="tags")
    assert "##" not in headline(state, "en") and "Tags" in headline(state, "en")
    _, _, heading, _, _ = render(state, "en")
    assert "tags" in heading and "genres" not in heading
    _, _, heading, _, _ = render(_state([("Jazz", 0.9)]), "en")
    assert heading == "Top 5 genres"


def test_progress_bar_names_cut_on_the_right():
    from genrescope.cli import short_name

    name = "Kevin_MacLeod_-_Vibe_Ace_and_a_long_tail.hq.ogg"
    assert short_name(name).startswith("Kevin_MacLeod") and short_name(name).endswith("…")
    assert len(short_name(name)) == 30 and short_name("a.wav") == "a.wav"


# ------------------------------------------------------ one score per model
@pytest.mark.slow
@pytest.mark.parametrize("name, score", [("musicnn_genres", "probability"),
                                         ("msd_musicnn", "tags")])
def test_one_score_everywhere(name, score):
    """Bars (top), chunk labels of the spectrogram, the timeline and the JSON
    use one kind of score: probabilities adding up to 1, or a tagger's tags."""
    from genrescope import Classifier
    from genrescope.plot import spectrogram_figure
    from genrescope.synth import chord

    clf = Classifier.load(name, device="cpu", precision="fp32")
    pred = clf.classify(chord(15.0, clf.model.sr), sr=clf.model.sr, duration_s=None)
    assert pred.score == score and pred.to_dict()["score"] == score
    chunks = np.array([c.probabilities for c in pred.timeline.chunks])
    totals = np.array(list(pred.probabilities.values())).sum(), chunks.sum(axis=1)
    if score == "probability":
        assert np.allclose(totals[0], 1, atol=1e-4) and np.allclose(totals[1], 1, atol=1e-4)
    else:
        assert totals[0] > 1.05                       # tags: no distribution
    fig = spectrogram_figure(pred)
    texts = [t.get_text() for ax in fig.axes for t in ax.texts]
    expected = []
    for p in chunks:
        best = int(np.argmax(p))
        expected.append(f"{pred.genres[best].en} {p[best]:.0%}")
    assert texts == expected


@pytest.mark.slow
def test_spectrogram_in_chinese():
    from genrescope import Classifier
    from genrescope.plot import spectrogram_figure
    from genrescope.synth import chord

    clf = Classifier.load("musicnn_genres", device="cpu", precision="fp32")
    pred = clf.classify(chord(15.0, clf.model.sr), sr=clf.model.sr, duration_s=None)
    fig = spectrogram_figure(pred, lang="zh")
    ax = fig.axes[-1]
    assert ax.get_xlabel() == "时间（秒）" and _has_cjk(ax.get_ylabel())
    assert ax.texts and all(_has_cjk(t.get_text()) for t in ax.texts)
    from genrescope.plot import figure_to_array

    assert figure_to_array(fig).shape[2] == 3                # draws with the CJK font


def test_page_says_when_a_model_is_being_prepared(tmp_path):
    """Issue 25: choosing a model that is not loaded yet puts a "Preparing"
    headline up (in the page's language) until the analysis answers; a loaded
    model changes nothing."""
    pytest.importorskip("gradio")
    from types import SimpleNamespace

    from genrescope.server.page import Models, _preparing_fn

    folders = {"genres": tmp_path / "genres", "vgg19_bn_cqt": tmp_path / "vgg"}
    loaded = [str(folders["genres"].resolve())]
    pool = SimpleNamespace(entry=lambda name: SimpleNamespace(path=folders[name]),
                           is_loaded=lambda entry: str(entry.path.resolve()) in loaded)
    preparing = _preparing_fn(pool, Models(["genres", "vgg19_bn_cqt"], initial="genres"))
    assert "Preparing vgg19_bn_cqt" in preparing("vgg19_bn_cqt", "en")
    assert "正在准备 vgg19_bn_cqt" in preparing("vgg19_bn_cqt", "zh")
    assert preparing("genres", "en") == {"__type__": "update"}
    loaded.append(str(folders["vgg19_bn_cqt"].resolve()))
    assert preparing("vgg19_bn_cqt", "en") == {"__type__": "update"}
