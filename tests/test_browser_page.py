"""Issue 26's smaller page points in a real browser: a refused upload frees
the upload box again, example clips load into the upload box (not the
microphone's), and /redoc loads without a CSP error."""

from __future__ import annotations

import pytest
from test_browser import (EN_NAMES, TIMEOUT_MS, block_outside, browser, fake_mic,  # noqa: F401
                          page, server, top5)

pytestmark = pytest.mark.slow


@pytest.mark.browser
def test_refused_upload_frees_the_box(page, tmp_path):  # noqa: F811
    notes = tmp_path / "notes.txt"
    notes.write_text("not music")
    page.set_input_files("#upload input[type=file]", str(notes))
    page.wait_for_selector("text=Invalid file type")                 # the toast says why
    # the red "Error" over the drop zone goes away by itself: the next file can come
    page.wait_for_function("!document.querySelector('#upload [data-testid=status-tracker]"
                           " .error')", timeout=TIMEOUT_MS)
    page.wait_for_selector("#upload input[type=file]", state="attached")
    assert "Drop File Here" in page.inner_text("#upload")


@pytest.mark.browser
def test_example_loads_into_the_upload_box(page):  # noqa: F811
    page.click("text=Vibe Ace (jazz)")
    top5(page, EN_NAMES | {"Jazz", "Blues", "Classical", "Country", "Disco", "Hip-hop",
                           "Metal", "Pop", "Reggae", "Rock"})
    assert "macleod_vibe_ace" in page.inner_text("#upload")          # the file is shown there


@pytest.mark.browser
def test_redoc_without_csp_error(browser, server):  # noqa: F811
    context = browser.new_context()
    context.set_default_timeout(TIMEOUT_MS)
    outside = block_outside(context)
    pg = context.new_page()
    errors = []
    pg.on("console", lambda m: errors.append(m.text) if m.type == "error" else None)
    pg.goto(server + "/redoc", wait_until="load")
    pg.wait_for_selector(".menu-content")
    pg.wait_for_timeout(1000)                        # the logo is drawn after the menu
    context.close()
    assert outside == [] and not [e for e in errors if "Content Security Policy" in e], errors
