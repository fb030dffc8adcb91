"""The microphone hears the music as it is (issue 26): the page records with
the browser's voice processing off (echo cancellation, noise suppression,
automatic gain), and its answer on a recording is the CLI's answer on the
same recorded audio.

Chromium's fake microphone plays a synthesised band (chords, drums, bass);
the server keeps what it received (``--save-dir``), which the CLI then
classifies.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys

import numpy as np
import pytest
import soundfile as sf
from serve_util import REPO, running_server
from test_browser import CHROMIUM, TIMEOUT_MS, block_outside, top5

from genrescope.synth import chord, groove

pytestmark = pytest.mark.slow
SR = 48000
RECORD_MS = 8000
#: The default model's genres (GTZAN's ten), as the page names them.
NAMES = {"Blues", "Classical", "Country", "Disco", "Hip-hop", "Jazz", "Metal", "Pop",
         "Reggae", "Rock"}

#: Wraps getUserMedia before the page's own script does, to read back what
#: the page asked for and what the browser gave.
SPY = """(() => {
  const media = navigator.mediaDevices, original = media.getUserMedia.bind(media);
  window.micAsked = []; window.micSettings = [];
  media.getUserMedia = async (constraints) => {
    window.micAsked.push(JSON.parse(JSON.stringify(constraints)));
    const stream = await original(constraints);
    window.micSettings.push(...stream.getAudioTracks().map(t => t.getSettings()));
    return stream;
  };
})();"""


def band(duration_s: float, sr: int) -> np.ndarray:
    """Music-like audio: a chord progression over a drum groove and bass."""
    y = 0.6 * chord(duration_s, sr, root_hz=196.0) + 0.5 * groove(duration_s, sr, bpm=100.0)
    return (0.7 * y / np.abs(y).max()).astype(np.float32)


@pytest.fixture(scope="module")
def mic_wav(tmp_path_factory):
    path = tmp_path_factory.mktemp("mic") / "band.wav"
    sf.write(path, band(12.0, SR), SR, subtype="PCM_16")
    return path


@pytest.fixture(scope="module")
def saved(tmp_path_factory):
    return tmp_path_factory.mktemp("saved")


@pytest.fixture(scope="module")
def server(saved, tmp_path_factory):
    tmp = tmp_path_factory.mktemp("mic-server-tmp")
    with running_server(["--device", "cpu", "--save-dir", str(saved)], tmp) as base:
        yield base


@pytest.fixture(scope="module")
def browser(mic_wav):
    if not os.path.exists(CHROMIUM):
        pytest.skip(f"{CHROMIUM} is missing: apt-get install chromium")
    sync_api = pytest.importorskip("playwright.sync_api")
    with sync_api.sync_playwright() as p:
        b = p.chromium.launch(executable_path=CHROMIUM, timeout=TIMEOUT_MS, args=[
            "--headless", "--no-sandbox", "--disable-gpu", "--no-first-run",
            "--use-fake-ui-for-media-stream", "--use-fake-device-for-media-stream",
            f"--use-file-for-fake-audio-capture={mic_wav}"])
        yield b
        b.close()


def cli_top(path) -> list[dict]:
    """``genrescope classify --format json`` on ``path``: the top genres."""
    out = subprocess.run([sys.executable, "-m", "genrescope.cli", "classify", "--device", "cpu",
                          "--format", "json", str(path)], cwd=REPO, capture_output=True,
                         text=True, timeout=600, check=True).stdout
    data = json.loads(out)
    return (data[0] if isinstance(data, list) else data)["top"]


@pytest.mark.browser
def test_recording_is_music_not_a_call(browser, server, saved):
    context = browser.new_context(viewport={"width": 1280, "height": 1000},
                                  permissions=["microphone"])
    context.set_default_timeout(TIMEOUT_MS)
    outside = block_outside(context)
    context.add_init_script(SPY)
    pg = context.new_page()
    pg.goto(server + "/", wait_until="load")
    pg.wait_for_selector("#audio button.record-button")
    pg.click("#audio button.record-button")
    pg.wait_for_timeout(RECORD_MS)
    pg.click("#audio button.stop-button")
    page_rows = top5(pg, NAMES)
    asked, settings = pg.evaluate("[window.micAsked, window.micSettings]")
    context.close()
    assert outside == []

    # what the page asked for and what the browser gave: no voice processing
    assert asked and all(isinstance(a["audio"], dict) for a in asked), asked
    for a in asked:
        assert a["audio"]["echoCancellation"] is False, a
        assert a["audio"]["noiseSuppression"] is False, a
        assert a["audio"]["autoGainControl"] is False, a
    assert settings, "no audio track was opened"
    for s in settings:
        assert s.get("echoCancellation") is False, s
        assert s.get("noiseSuppression", False) is False, s
        assert s.get("autoGainControl", False) is False, s

    # the page's answer is the CLI's answer on the same recorded audio
    audio = [p for p in saved.iterdir() if p.suffix != ".json"]
    assert len(audio) == 1, sorted(saved.iterdir())
    recorded, sr = sf.read(audio[0])
    assert len(recorded) / sr > 0.6 * RECORD_MS / 1000, "the recording is too short"
    assert np.sqrt(np.mean(recorded ** 2)) > 0.01, "the recording is silent"
    cli = cli_top(audio[0])
    assert page_rows[0][0] == cli[0]["name"], (page_rows, cli)
    cli_pct = {g["name"]: 100 * g["probability"] for g in cli}
    for name, pct in page_rows:
        assert name in cli_pct and abs(pct - cli_pct[name]) <= 3, (page_rows, cli)
