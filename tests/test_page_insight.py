"""The page's timeline/"Why?" pieces and Library tab helpers without a browser."""

from __future__ import annotations

from types import SimpleNamespace

import numpy as np
from gradio.utils import deep_hash

from genrescope.labels import genre
from genrescope.library.results import Hit, Track
from genrescope.server.page.insight import _genre_choices, _timeline, _timeline_views, summary
from genrescope.server.page.library import _player, _similar_table, track_timeline
from genrescope.timeline import Timeline, TimelineChunk


def _two_halves() -> Timeline:
    """Jazz for 12 s, then rock for 12 s (3 s chunks)."""
    rows = [[.8, .2]] * 4 + [[.1, .9]] * 4
    return Timeline([genre("jazz"), genre("rock")],
                    [TimelineChunk(3.0 * i, 3.0 * i + 3, np.array(p, np.float32), 3.0 * i,
                                   3.0 * i + 3) for i, p in enumerate(rows)], 0.0, 24.0)


def test_summary_is_plain_and_gives_the_timeline_back():
    tl = _two_halves()
    kept = summary(SimpleNamespace(timeline=tl)) | {"top": [("Rock", "摇滚", .5),
                                                            ("Jazz", "爵士", .45)]}
    deep_hash(kept)                     # what Gradio does to a gr.State value: no TypeError
    again = _timeline(kept)
    for lang in ("en", "zh"):
        assert again.describe(lang) == tl.describe(lang)
    assert again.describe("en") == "0:00-0:12 Jazz, 0:12-0:24 Rock"
    assert summary(SimpleNamespace(timeline=None)) == {}
    assert _timeline({}) is None and _timeline({"error": "x"}) is None


def test_timeline_views_and_genre_choices_in_both_languages():
    kept = summary(SimpleNamespace(timeline=_two_halves())) | {
        "top": [("Rock", "摇滚", .5), ("Jazz", "爵士", .45)]}
    chart, text = _timeline_views(kept, "zh")
    assert chart["visible"] is True and chart["value"].ndim == 3
    assert text.endswith("0:00-0:12 爵士, 0:12-0:24 摇滚")
    hidden, none = _timeline_views({}, "en")
    assert hidden["visible"] is False and none == ""
    assert _genre_choices(kept, "en") == [("the top genre", ""), ("Rock", "rock"),
                                          ("Jazz", "jazz")]
    assert [v for _, v in _genre_choices(kept, "zh")] == ["", "rock", "jazz"]


def test_library_track_timeline_and_similar_table():
    track = Track(3, "/music/a|b.wav", 10, 8.0, "m", "spread:3x10", [("jazz", .7)], [], None,
                  {"jazz": ("Jazz", "爵士"), "rock": ("Rock", "摇滚")})
    arrays = {"labels": ["jazz", "rock"], "timeline": [
        {"start_s": 0.0, "end_s": 4.0, "p": [.9, .1]}, {"start_s": 4.0, "end_s": 8.0,
                                                         "p": [.8, .2]},
        {"start_s": 30.0, "end_s": 34.0, "p": [.2, .8]}, {"start_s": 34.0, "end_s": 38.0,
                                                           "p": [.1, .9]}]}
    tl = track_timeline(track, arrays)
    assert tl.describe("zh") == "0:00-0:08 爵士, 0:30-0:38 摇滚"     # the analysed windows
    assert track_timeline(track, {"labels": [], "timeline": []}) is None
    table = _similar_table([Hit(track, 0.93, ["jazz"], 0.8, 0.5)], "en")
    assert "a\\|b" in table and "both Jazz" in table and "0.93" in table
    assert _similar_table([], "en") == ""
    assert 'src="api/v1/library/tracks/3/audio"' in _player(3)


def test_budget_from_the_slider_is_bounded():
    from genrescope.explain import DEFAULT_BUDGET
    from genrescope.server.page.insight import MAX_PAGE_BUDGET, _budget

    assert _budget(6, 2) == 6 and _budget(1, 4) == 4 and _budget(10**9, 1) == MAX_PAGE_BUDGET
    assert _budget(float("nan"), 1) == DEFAULT_BUDGET == _budget("x", 1) == _budget(None, 1)
    assert _budget(7.6, 1) == 8


def test_markdown_cells_show_file_names_literally():
    from genrescope.server.page.library import _cell

    assert _cell("Dance_No_5_(x)*|<b>") == "Dance\\_No\\_5\\_\\(x\\)\\*\\|&lt;b&gt;"
