"""The web page in a real browser: ``genrescope serve`` in a subprocess,
driven by Debian Chromium through Playwright (headless, fake microphone).

Every request the page makes to a host other than the local server is
blocked and makes the test fail: the page must work offline.
"""

from __future__ import annotations

import os
import re
from pathlib import Path
from urllib.parse import urlsplit

import pytest
import soundfile as sf

from conftest import FORMATS, write_audio
from genrescope.labels import CCMUSIC_GENRES
from genrescope.synth import chord
from serve_util import running_server

CHROMIUM = "/usr/bin/chromium"
MODEL = "vgg19_bn_cqt"
REPO = Path(__file__).resolve().parents[1]
TIMEOUT_MS = 60_000
ZH_NAMES = {g.zh for g in CCMUSIC_GENRES}
EN_NAMES = {g.en for g in CCMUSIC_GENRES}

pytestmark = pytest.mark.slow


@pytest.fixture(scope="module")
def server(official_models_dir, tmp_path_factory):
    """``genrescope serve`` on a free loopback port; its TMPDIR must be
    clean again after it stops."""
    tmp = tmp_path_factory.mktemp("server-tmp")
    log_path = tmp.parent / "server.log"
    with running_server(["--models-dir", str(official_models_dir), "--model", MODEL,
                         "--device", "cpu", "--precision", "fp32"], tmp,
                        log_path=log_path) as base:
        yield base
    output = log_path.read_text()
    assert "page http://127.0.0.1:" in output
    assert "other machines" not in output            # loopback: no such note
    left = [p.name for p in tmp.iterdir() if p.name.startswith("genrescope-")]
    assert left == [], f"temporary folders left after exit: {left}"


@pytest.fixture(scope="module")
def fake_mic(tmp_path_factory) -> Path:
    """What Chromium's fake microphone plays: 16-bit PCM WAV at 48 kHz."""
    path = tmp_path_factory.mktemp("mic") / "mic.wav"
    sf.write(path, chord(10.0, 48000), 48000, subtype="PCM_16")
    return path


@pytest.fixture(scope="module")
def upload_clip(tmp_path_factory) -> Path:
    path = tmp_path_factory.mktemp("upload") / "chords.wav"
    sf.write(path, chord(12.0, 22050, root_hz=196.0), 22050, subtype="PCM_16")
    return path


@pytest.fixture(scope="module")
def browser(fake_mic):
    if not os.path.exists(CHROMIUM):
        pytest.skip(f"{CHROMIUM} is missing: install Debian's chromium "
                    "(apt-get install chromium) to run the browser tests")
    sync_api = pytest.importorskip("playwright.sync_api")
    with sync_api.sync_playwright() as p:
        b = p.chromium.launch(executable_path=CHROMIUM, timeout=TIMEOUT_MS, args=[
            "--headless", "--no-sandbox", "--disable-gpu", "--disable-background-networking",
            "--disable-component-update", "--disable-sync", "--no-first-run",
            "--use-fake-ui-for-media-stream", "--use-fake-device-for-media-stream",
            f"--use-file-for-fake-audio-capture={fake_mic}"])
        yield b
        b.close()


def block_outside(context, local_schemes=("data:", "blob:")) -> list[str]:
    """Abort every request of ``context`` to another host than the loopback
    server (URLs starting with ``local_schemes`` pass); the returned list
    collects their URLs (a test asserts it stays empty)."""
    outside = []

    def guard(route):
        host = urlsplit(route.request.url).hostname
        if route.request.url.startswith(local_schemes) or host in ("127.0.0.1", None):
            route.continue_()
        else:
            outside.append(route.request.url)
            route.abort()

    context.route("**/*", guard)
    return outside


@pytest.fixture
def page(browser, server):
    """A fresh page on the server; outside requests are blocked and fail the test."""
    context = browser.new_context(viewport={"width": 1280, "height": 1000},
                                  permissions=["microphone"])
    context.set_default_timeout(TIMEOUT_MS)
    outside = block_outside(context)
    pg = context.new_page()
    pg.goto(server + "/", wait_until="load")
    pg.wait_for_selector("#audio")
    yield pg
    context.close()
    assert outside == [], f"the page contacted outside hosts: {outside}"


def top5(pg, names=EN_NAMES) -> list[tuple[str, float]]:
    """Wait for five bars whose names are in ``names``; return (name, percent)."""
    pg.wait_for_function(
        """names => {
            const rows = [...document.querySelectorAll('#top .confidence-set')];
            return rows.length === 5 && rows.every(r =>
                names.includes(r.querySelector('dt').innerText.trim()) &&
                /%$/.test(r.querySelector('dd').innerText.trim()));
        }""", arg=sorted(names), timeout=TIMEOUT_MS)
    rows = []
    for row in pg.locator("#top .confidence-set").all():
        name = row.locator("dt").inner_text().strip()
        pct = row.locator("dd").inner_text().strip()
        assert re.fullmatch(r"\d+(\.\d+)?%", pct), pct
        rows.append((name, float(pct[:-1])))
    return rows


def upload(pg, path: Path) -> None:
    pg.set_input_files("#upload input[type=file]", str(path))


def wait_text(pg, selector: str, pattern: str, timeout: float = TIMEOUT_MS) -> str:
    """The text of ``selector`` once it matches the regular expression ``pattern``
    (the text that matched, read in the same check); fails, showing the last
    text, if it does not within ``timeout`` ms.

    Gradio draws the outputs of one answer in turn, not at once: the bars
    first, each Markdown (headline, notes, timings, credits...) a few
    milliseconds later, more under load; a language switch relabels one
    component after another. Waiting for one of them says nothing about the
    others: wait for the text that is asserted."""
    from playwright.sync_api import TimeoutError as PlaywrightTimeout

    try:
        return pg.wait_for_function(
            "([sel, pat]) => { const e = document.querySelector(sel);"
            " return e && new RegExp(pat).test(e.innerText) && e.innerText; }",
            arg=[selector, pattern], timeout=timeout).json_value()
    except PlaywrightTimeout:
        shown = pg.locator(selector).all_inner_texts()
        pytest.fail(f"{selector} never matched {pattern!r} within {timeout / 1000:g} s: {shown}")


@pytest.mark.browser
def test_upload_shows_top5(page, upload_clip):
    upload(page, upload_clip)                       # no button: the upload starts it
    rows = top5(page)
    assert len({n for n, _ in rows}) == 5
    assert [p for _, p in rows] == sorted((p for _, p in rows), reverse=True)
    wait_text(page, "#timings", "Analysis took")     # drawn after the bars
    wait_text(page, "#notes", "unsure")              # random weights: always unsure


@pytest.mark.browser
def test_microphone_recording(page):
    page.click("#audio button.record-button")
    page.wait_for_timeout(4000)
    page.click("#audio button.stop-button")
    assert len(top5(page)) == 5
    notes = wait_text(page, "#notes", "unsure|silent")     # random weights: always unsure
    assert "silent" not in notes, "the fake microphone delivered silence"
    wait_text(page, "#timings", r"network \d")


@pytest.mark.browser
def test_language_switch(page, upload_clip):
    upload(page, upload_clip)
    top5(page)
    page.click("#lang label:has-text('中文')")
    rows = top5(page, ZH_NAMES)
    assert all(name in ZH_NAMES for name, _ in rows)
    wait_text(page, "#audio", "录音")                   # the page's own labels too, each
    wait_text(page, "#upload", "上传")                  # drawn in its turn after the bars
    wait_text(page, "#model", "模型")
    wait_text(page, "#timings", "分析用时")


@pytest.mark.browser
def test_language_switch_during_analysis(page, upload_clip):
    upload(page, upload_clip)
    page.click("#lang label:has-text('中文')")            # before the result arrives
    rows = top5(page, ZH_NAMES)
    assert all(name in ZH_NAMES for name, _ in rows)
    page.wait_for_function("document.querySelector('#timings').innerText.includes('分析用时')",
                           timeout=TIMEOUT_MS)


@pytest.mark.browser
def test_real_examples_with_credits(page):
    """The shipped example clips: readable names (EN and ZH), credits shown."""
    credits = page.inner_text("#credits")
    assert "Kevin MacLeod" in credits and "CC BY 3.0" in credits and "public domain" in credits
    for synthetic in ("drum groove", "sine sweep", "string chords"):
        assert page.locator(f"text={synthetic}").count() == 0
    page.click("text=Vibe Ace (jazz)")
    assert len(top5(page)) == 5
    page.click("#lang label:has-text('中文')")
    page.wait_for_selector("text=勃拉姆斯：匈牙利舞曲第五号（弦乐团）")
    wait_text(page, "#credits", "示例音频")              # a Markdown: drawn after the examples


@pytest.mark.browser
def test_model_list_only_usable(page, official_models_dir):
    """Only models that load are offered; the others are one line and a help
    section, with no server path anywhere on the page."""
    page.click("#model input")
    page.wait_for_selector("#model [role=option]")       # this list, not one still fading out
    options = [o.inner_text().strip().split("\n")[-1]       # the chosen one has a ✓
               for o in page.locator("#model [role=option]").all()]
    page.keyboard.press("Escape")
    assert MODEL in options and "genres" in options and "msd_musicnn" in options
    assert not any(o.startswith(("vgg16", "vgg13", "vgg11")) or "missing" in o for o in options)
    more = page.inner_text("#more-models")
    assert "need a download" in more
    assert page.locator("#more-models a[href='#models-help']").count() == 1
    assert "vgg16_bn_cqt" in page.inner_text("#models-help")
    html = page.content()
    assert str(official_models_dir) not in html and str(REPO) not in html


@pytest.mark.browser
@pytest.mark.parametrize("fmt", FORMATS)
def test_every_format_uploads(page, tmp_path, fmt):
    """Each format the CLI decodes uploads and is analysed (Chrome calls a
    .webm file video/webm, which Gradio's Audio upload refused)."""
    path = write_audio(tmp_path / f"clip.{fmt}", chord(6.0, 44100), 44100)
    upload(page, path)
    assert len(top5(page)) == 5
    assert page.locator("text=Invalid file type").count() == 0


@pytest.mark.browser
def test_headline_only_when_sure(page, upload_clip):
    """Random weights are never sure: no big headline, the candidates named plainly."""
    upload(page, upload_clip)
    rows = top5(page)
    # the headline is drawn after the bars, and Gradio's progress text ("processing |
    # 1.7s", then "0.1s" while the result is redrawn in the page's language) comes and
    # goes before it for a moment: the headline as it reads once it is drawn
    head = wait_text(page, "#headline", r"^\s*Not sure\.").strip()
    assert rows[0][0] in head and page.locator("#headline h2").count() == 0


@pytest.mark.browser
def test_tag_model_shows_tags(page, upload_clip):
    """A tagger's scores are tags, not a distribution of genres."""
    page.click("#model input")
    page.click("[role=option]:text-is('msd_musicnn')")
    upload(page, upload_clip)
    page.wait_for_function("document.querySelector('#headline').innerText.includes('Tags')",
                           timeout=TIMEOUT_MS)
    page.wait_for_function("document.querySelector('#top').innerText.includes('Top 5 tags')",
                           timeout=TIMEOUT_MS)
    label = page.inner_text("#top")
    assert "tags" in label and "do not add up to 100 %" in label and "genres" not in label


@pytest.mark.browser
def test_start_at_applies_without_enter(page, upload_clip):
    """Typing a start and leaving the field re-analyses (no Enter needed)."""
    upload(page, upload_clip)
    top5(page)
    page.fill("#offset input", "10")
    page.click("#intro")                             # leave the field, no Enter
    page.wait_for_function("document.querySelector('#notes').innerText.includes('Only 2.0 s')",
                           timeout=TIMEOUT_MS)


@pytest.mark.browser
def test_chinese_spectrogram(page, upload_clip):
    page.click("#lang label:has-text('中文')")
    page.click("#show-spectrogram input")
    upload(page, upload_clip)
    page.wait_for_selector("#spectrogram img", state="visible")
    page.wait_for_function("document.querySelector('#spectrogram img').complete")
    out = REPO / "test-artifacts" / "web-spectrogram-zh.png"
    out.parent.mkdir(exist_ok=True)
    page.locator("#spectrogram").screenshot(path=str(out))
    assert out.stat().st_size > 20_000


@pytest.mark.browser
def test_phone_layout_after_recording(browser, server):
    """390 px wide: the title stays whole and, right after a recording, the
    result is on screen without scrolling."""
    context = browser.new_context(viewport={"width": 390, "height": 844}, is_mobile=True,
                                  has_touch=True, permissions=["microphone"])
    context.set_default_timeout(TIMEOUT_MS)
    pg = context.new_page()
    pg.goto(server + "/", wait_until="load")
    pg.wait_for_selector("#audio")
    lines = pg.evaluate("""() => {
        const h = document.querySelector('#intro h2');
        const text = [...h.childNodes].find(n => n.nodeType === 3 && n.textContent.trim());
        const range = document.createRange();
        range.setStart(text, 0);
        range.setEnd(text, 'genrescope'.length);
        const word = range.getBoundingClientRect(), box = h.getBoundingClientRect();
        return [range.getClientRects().length, word.right <= Math.min(box.right, 390) + 1];
    }""")
    assert lines == [1, True], "the title breaks inside 'genrescope' or is cut off"
    pg.click("#audio button.record-button")
    pg.wait_for_timeout(3000)
    pg.click("#audio button.stop-button")
    rows = top5(pg)
    assert len(rows) == 5
    wait_text(pg, "#headline", "Not sure")        # the box measured below: drawn after the bars
    pg.evaluate("window.scrollTo(0, 0)")
    out = REPO / "test-artifacts" / "web-phone-result.png"
    out.parent.mkdir(exist_ok=True)
    pg.screenshot(path=str(out))
    box = pg.locator("#headline").bounding_box()
    model_box = pg.locator("#model").bounding_box()
    context.close()
    assert box["y"] + 20 < 844, f"the result starts below the screen: {box}"
    assert box["y"] < model_box["y"], "the result must come before the settings"


@pytest.mark.browser
def test_screenshot(page, upload_clip):
    upload(page, upload_clip)
    top5(page)
    page.click("#show-spectrogram input")           # re-runs the analysis, with the picture
    page.wait_for_selector("#spectrogram img", state="visible")
    page.wait_for_function("document.querySelector('#spectrogram img').complete")
    top5(page)
    out = REPO / "test-artifacts" / "web-result.png"
    out.parent.mkdir(exist_ok=True)
    page.screenshot(path=str(out), full_page=True)
    assert out.stat().st_size > 50_000


def test_gradio_client(server, upload_clip, tmp_path):
    gradio_client = pytest.importorskip("gradio_client")
    client = gradio_client.Client(server + "/", verbose=False, download_files=str(tmp_path))
    headline, bars, notes, timings, image = client.predict(
        gradio_client.handle_file(str(upload_clip)), MODEL, 30, 0, True, "zh",
        api_name="/classify")
    assert len(bars["confidences"]) == 5
    assert all(c["label"] in ZH_NAMES for c in bars["confidences"])
    assert "分析用时" in timings and "不确定" in headline      # random weights: unsure
    assert image and Path(image).is_file()


def test_api_on_real_server(server, upload_clip):
    """The REST API on a real socket, beside the page."""
    import httpx

    with open(upload_clip, "rb") as f:
        r = httpx.post(server + "/api/v1/classify", files={"file": ("a.wav", f)},
                       data={"model": MODEL}, timeout=120, trust_env=False)
    assert r.status_code == 200, r.text
    assert len(r.json()["top"]) == 5


@pytest.mark.browser
@pytest.mark.parametrize("path, operation", [("/docs", ".opblock-summary-path"),
                                             ("/redoc", "[data-section-id^='tag/api/operation']")])
def test_api_docs_render_offline(browser, server, path, operation):
    """/docs (Swagger UI) and /redoc (ReDoc) list the operations with every
    request to another host blocked: their scripts come from the server."""
    context = browser.new_context()
    context.set_default_timeout(TIMEOUT_MS)
    outside = block_outside(context)
    pg = context.new_page()
    pg.goto(server + path, wait_until="load")
    pg.wait_for_selector(operation)
    text = pg.evaluate("document.body.textContent")
    context.close()
    for route in ("/api/v1/classify", "/api/v1/models", "/healthz"):
        assert route in text, (path, route)
    assert outside == [], f"{path} contacted outside hosts: {outside}"
