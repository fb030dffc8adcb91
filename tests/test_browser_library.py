"""The page's Library tab (``serve --db``) in a real browser (issue 12): a
small indexed folder of synthesised music; search by name and by genre, a
track's genres, timeline and player, similar tracks with reasons, the map,
both languages. Screenshots go to test-artifacts/.
"""

from __future__ import annotations


import pytest
from library_util import music_folder
from serve_util import REPO, running_server
from test_browser import TIMEOUT_MS, block_outside, browser, fake_mic  # noqa: F401

from genrescope.library import index

pytestmark = pytest.mark.slow


@pytest.fixture(scope="module")
def library_server(tmp_path_factory):
    root = tmp_path_factory.mktemp("libpage")
    music_folder(root / "music", 8)
    (root / "music" / "broken.wav").write_bytes(b"not audio")
    db = root / "lib.db"
    index([str(root / "music")], str(db), device="cpu", progress=False)
    tmp = root / "tmp"
    tmp.mkdir()
    with running_server(["--db", str(db), "--device", "cpu"], tmp) as base:
        yield base


@pytest.fixture
def lib_page(browser, library_server):  # noqa: F811
    """The page on the library server, on its Library tab; outside requests fail the test."""
    context = browser.new_context(viewport={"width": 1280, "height": 1000})
    context.set_default_timeout(TIMEOUT_MS)
    outside = block_outside(context, ("data:", "blob:", "about:"))   # about: the map's frame
    pg = context.new_page()
    pg.goto(library_server + "/", wait_until="load")
    pg.click("button[role=tab]:has-text('Library')")
    pg.wait_for_selector("#lib-q textarea, #lib-q input", state="visible")
    yield pg
    context.close()
    assert outside == [], f"the page contacted outside hosts: {outside}"


def _results(pg) -> list[str]:
    pg.wait_for_selector("#lib-results label")
    return [t.strip() for t in pg.locator("#lib-results label").all_inner_texts()]


def _search(pg, text: str) -> list[str]:
    box = pg.locator("#lib-q textarea, #lib-q input").first
    box.fill(text)
    pg.click("#lib-search")
    pg.wait_for_function("t => [...document.querySelectorAll('#lib-results label')]"
                         ".every(l => l.innerText.includes(t))", arg=text, timeout=TIMEOUT_MS)
    return _results(pg)


@pytest.mark.browser
def test_library_tab_search_track_similar_map(lib_page):
    pg = lib_page
    found = _search(pg, "track0")
    assert len(found) == 8 and all(t.startswith("track0") for t in found), found
    assert _search(pg, "track03") == [t for t in found if t.startswith("track03")]

    pg.click("#lib-results label:has-text('track03')")
    pg.wait_for_function("document.querySelector('#lib-track').innerText.includes('track03')",
                         timeout=TIMEOUT_MS)
    pg.wait_for_selector("#lib-top .confidence-set")
    pg.wait_for_selector("#lib-timeline img", state="visible")
    assert "0:00-" in pg.inner_text("#lib-segments")
    similar = pg.inner_text("#lib-similar")
    assert similar.count("sounds") >= 2 and "alike" in similar  # each hit says why
    assert "track03" not in similar.split("Why it is near", 1)[1]   # not itself
    src = pg.get_attribute("#lib-player audio", "src")
    status = pg.evaluate("async s => { const r = await fetch(s);"
                         " return [r.status, r.headers.get('content-type')]; }", src)
    assert status[0] == 200 and status[1].startswith("audio/"), status

    pg.click("#lib-show-map")
    pg.wait_for_selector("#lib-map-frame")
    frame = pg.frame_locator("#lib-map-frame")
    frame.locator(".js-plotly-plot .legend").wait_for(timeout=TIMEOUT_MS)
    assert "Library map: 8 tracks" in frame.locator("body").inner_text()
    out = REPO / "test-artifacts" / "library-en.png"
    out.parent.mkdir(exist_ok=True)
    pg.screenshot(path=str(out), full_page=True)

    pg.click("#lang label:has-text('中文')")
    pg.wait_for_function("document.querySelector('#lib-similar').innerText.includes('流派构成')",
                         timeout=TIMEOUT_MS)
    assert pg.locator("button[role=tab]:has-text('音乐库')").count() == 1
    frame.locator("text=音乐库地图").wait_for(timeout=TIMEOUT_MS)
    frame.locator(".js-plotly-plot .legend").wait_for(timeout=TIMEOUT_MS)
    pg.screenshot(path=str(out.with_name("library-zh.png")), full_page=True)


@pytest.mark.browser
def test_library_tab_search_by_genre(lib_page):
    pg = lib_page
    pg.click("#lib-genre input")
    options = pg.locator("[role=option]").all_inner_texts()
    assert len(options) >= 2                                  # "any genre" + the library's
    genre_name = options[1].rsplit(" (", 1)[0].strip()
    count = int(options[1].rsplit("(", 1)[1].rstrip(") \n"))
    pg.click(f"[role=option]:has-text('{options[1].strip()}')")
    pg.wait_for_function("n => document.querySelectorAll('#lib-results label').length === n",
                         arg=count, timeout=TIMEOUT_MS)
    assert all(genre_name in t for t in _results(pg))
