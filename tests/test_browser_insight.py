"""The page's timeline chart and "Why?" view in a real browser (issue 14):
upload a clip made of two different synthetic halves, see the genres over time
and the merged segments, ask why, switch to Chinese. Screenshots go to
test-artifacts/. Server and browser: the fixtures of tests/test_browser.py.
"""

from __future__ import annotations

import re

import numpy as np
import pytest
import soundfile as sf
from test_browser import (EN_NAMES, REPO, TIMEOUT_MS, ZH_NAMES, browser,  # noqa: F401
                          fake_mic, page, server, top5, upload, wait_text)

from genrescope.synth import chord, groove

SR = 22050
pytestmark = pytest.mark.slow


@pytest.fixture(scope="module")
def two_halves(tmp_path_factory):
    """12 s of string chords, then 12 s of a drum groove."""
    path = tmp_path_factory.mktemp("insight") / "two_halves.wav"
    sf.write(path, np.concatenate([chord(12.0, SR), groove(12.0, SR)]), SR, subtype="PCM_16")
    return path


def _image_src(pg, selector: str) -> str:
    pg.wait_for_selector(f"{selector} img", state="visible")
    pg.wait_for_function(f"document.querySelector('{selector} img').complete")
    return pg.get_attribute(f"{selector} img", "src")


def _shot(pg, name: str):
    out = REPO / "test-artifacts" / name
    out.parent.mkdir(exist_ok=True)
    pg.screenshot(path=str(out), full_page=True)
    assert out.stat().st_size > 50_000


@pytest.mark.browser
def test_timeline_and_why_in_both_languages(page, two_halves):  # noqa: F811
    upload(page, two_halves)
    top5(page)
    chart_en = _image_src(page, "#timeline")
    segments = wait_text(page, "#segments", r"0:00-")
    # the segments tile the analysed window (24 s) and name genres in English
    assert re.search(r"0:00-\d:\d\d", segments), segments
    assert "0:24" in segments, segments
    assert any(name in segments for name in EN_NAMES), segments

    page.click("#why .label-wrap")                       # open the "Why?" view
    budget = page.locator("#why-budget input[type=number]")
    budget.wait_for(state="visible", timeout=TIMEOUT_MS)  # rendered once opened: fill after
    page.wait_for_timeout(500)                           # the accordion's content settled
    budget.fill("6")                                     # a small budget: a quick test
    budget.press("Enter")
    budget.blur()
    page.wait_for_function("() => document.querySelector('#why-budget input').value === '6'",
                           timeout=TIMEOUT_MS)
    page.click("#why-run")
    notes = wait_text(page, "#why-notes", r"\d+ forward passes")
    passes = int(re.search(r"(\d+) forward passes", notes).group(1))
    assert 2 <= passes <= 6                              # at least one per chunk, in budget
    assert "Red" in notes and "blue" in notes            # what the colours mean
    why_en = _image_src(page, "#why-image")
    _shot(page, "insight-en.png")

    page.click("#lang label:has-text('中文')")
    top5(page, ZH_NAMES)
    segments_zh = wait_text(page, "#segments", "时间段")
    assert any(name in segments_zh for name in ZH_NAMES), segments_zh
    assert "0:24" in segments_zh
    notes_zh = wait_text(page, "#why-notes", "前向计算")
    assert "红色" in notes_zh and f"{passes} 次" in notes_zh
    page.wait_for_function("src => document.querySelector('#why-image img').src !== src",
                           arg=why_en, timeout=TIMEOUT_MS)   # the map redrawn in Chinese
    # the chart's legend and the view's title too: other outputs of the switch, each
    # drawn in its own turn, not with the map
    page.wait_for_function("src => document.querySelector('#timeline img').src !== src",
                           arg=chart_en, timeout=TIMEOUT_MS)
    assert _image_src(page, "#timeline") != chart_en
    wait_text(page, "#why", "为什么")
    _shot(page, "insight-zh.png")


@pytest.mark.browser
def test_why_before_any_analysis_says_so(page):  # noqa: F811
    page.click("#why .label-wrap")
    page.click("#why-run")
    wait_text(page, "#why-notes", "Analyse a clip first")
    assert not page.is_visible("#why-image img")
