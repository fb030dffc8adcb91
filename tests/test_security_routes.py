"""Issue 28: security round two. The routes served (an inventory that fails
when a route appears unreviewed), Gradio's helpers refused, no URL fetched,
files served with our types, the page's bodies bounded, FFmpeg kept to our
demuxers, decoding bounded in samples and in decoded length whatever the
header says, and client errors that were 500s. Each test failed on the code
before the fix (checked against the base commit).
"""

from __future__ import annotations

import asyncio
import os

import numpy as np
import pytest
import soundfile as sf

from library_util import music_folder

os.environ.setdefault("GRADIO_ANALYTICS_ENABLED", "False")

from fastapi.testclient import TestClient  # noqa: E402

from genrescope.errors import GenrescopeError  # noqa: E402
from genrescope.server.app import create_app  # noqa: E402

BASE = "http://127.0.0.1"
LIMIT_S = 60.0


@pytest.fixture(scope="module")
def lib_client(tmp_path_factory):
    """A server with a library (``--db``) indexed with the whole-track plan."""
    from genrescope.library import index

    root = tmp_path_factory.mktemp("sec28")
    os.environ["GRADIO_TEMP_DIR"] = str(root / "gradio")
    music_folder(root / "music", 4)
    db = root / "lib.db"
    index([str(root / "music")], str(db), windows="full", progress=False)
    app = create_app(device="cpu", db=str(db), tmp_dir=root, max_upload_mb=8,
                     max_duration_s=LIMIT_S)
    with TestClient(app, base_url=BASE, raise_server_exceptions=False) as client:
        client.app_, client.root, client.db = app, root, db
        yield client


def _concrete(template: str) -> str:
    """A request path for a route template: each parameter filled in."""
    import re

    return re.sub(r"\{[^}]+\}", "1", template)


def test_every_route_is_reviewed_and_the_refused_ones_answer_404(lib_client):
    from genrescope.server.routes import KEPT, REFUSED, served_routes

    kept = {k.path: set(k.methods) for k in KEPT}
    served = served_routes(lib_client.app_)
    unreviewed = [(p, sorted(m)) for p, m in served if p not in kept and p not in REFUSED]
    assert not unreviewed, f"routes neither kept nor refused in server/routes.py: {unreviewed}"
    wider = [(p, sorted(m)) for p, m in served if p in kept and not set(m) <= kept[p] | {"HEAD"}]
    assert not wider, f"kept routes answering more methods than reviewed: {wider}"
    for template in REFUSED:
        path = _concrete(template)
        for method in ("GET", "POST"):
            r = lib_client.request(method, path)
            assert r.status_code in (404, 405), (method, path, r.status_code)
            assert r.status_code == 404 or not r.headers.get("allow", "").count(method)


def test_process_recording_monitoring_and_proxy_are_gone(lib_client):
    playlist = b"#EXTM3U\n#EXT-X-TARGETDURATION:1\n#EXTINF:1,\n/etc/passwd\n#EXT-X-ENDLIST\n"
    r = lib_client.post("/gradio_api/process_recording",
                        files={"video": ("x.webm", playlist, "video/webm")})
    assert r.status_code == 404
    for path in ("/monitoring/summary", "/monitoring", "/gradio_api/proxy=http://127.0.0.1/",
                 "/gradio_api/stream/1/1/1/playlist.m3u8", "/gradio_api/vibe-code",
                 "/gradio_api/startup-events", "/manifest.json"):
        assert lib_client.get(path).status_code == 404, path


@pytest.mark.parametrize("target", [
    "http://93.184.215.14/a.png", "https://example.com/a.png", "https:/example.com/a.png",
    "//example.com/a.png", "file:///etc/passwd", "HTTP://EXAMPLE.COM/x.jpg"])
def test_file_route_fetches_no_url(lib_client, target):
    r = lib_client.get(f"/gradio_api/file={target}")
    assert r.status_code == 404 and "no URL" in r.json()["error"]


def test_files_are_served_with_our_type(lib_client):
    page = b"<html><script>alert(1)</script></html>"
    up = lib_client.post("/gradio_api/upload", files=[
        ("files", ("evil.html", page, "text/html")), ("files", ("pic.png", page, "image/png")),
        ("files", ("clip.wav", b"RIFF0000WAVE", "audio/wav"))])
    assert up.status_code == 200
    html, png, wav = up.json()
    r = lib_client.get(f"/gradio_api/file={html}")
    assert r.status_code == 200 and r.headers["content-type"] == "application/octet-stream"
    assert r.headers["content-disposition"].startswith("attachment")
    r = lib_client.get(f"/gradio_api/file={png}")
    assert r.headers["content-type"] == "image/png"
    assert r.headers["x-content-type-options"] == "nosniff"
    assert lib_client.get(f"/gradio_api/file={wav}").headers["content-type"] == "audio/wav"
    # a link on another site may open the page, never a file
    nav = {"sec-fetch-site": "cross-site", "sec-fetch-mode": "navigate"}
    assert lib_client.get(f"/gradio_api/file={png}", headers=nav).status_code == 403
    assert lib_client.get("/api/v1/models", headers=nav).status_code == 403
    assert lib_client.get("/", headers=nav).status_code == 200


def test_page_client_errors_are_4xx_not_500(lib_client):
    for route in ("/gradio_api/queue/join", "/gradio_api/run/predict"):   # both event routes
        for fn_index in (10**6, -1, "x", 1.5, [1], True):
            r = lib_client.post(route, json={
                "fn_index": fn_index, "data": [], "session_hash": "abc", "event_data": None})
            assert r.status_code == 422, (route, fn_index, r.status_code, r.text)
    r = lib_client.post("/gradio_api/upload", files={"files": ("", b"abc")})
    assert r.status_code == 422
    big = 2**64 + 1
    for suffix in ("", "/similar", "/thumbnail", "/audio"):
        r = lib_client.get(f"/api/v1/library/tracks/{big}{suffix}")
        assert r.status_code == 422, (suffix, r.status_code)
    r = lib_client.get("/api/v1/library/tracks/999999")
    assert r.status_code == 404 and str(lib_client.db) not in r.text
    assert os.path.basename(str(lib_client.db)) not in r.text


def test_page_upload_over_the_total_limit_is_413(lib_client):
    chunk = b"\0" * (3 * 1024 * 1024)
    files = [("files", (f"f{i}.wav", chunk, "audio/wav")) for i in range(4)]   # 12 MB > 8+1
    r = lib_client.post("/gradio_api/upload", files=files)
    assert r.status_code == 413
    r = lib_client.post("/gradio_api/queue/join", content=b"{" + b" " * (2 * 1024 * 1024) + b"}",
                        headers={"content-type": "application/json"})
    assert r.status_code == 413


def _run_asgi(middleware, method: str, path: str, chunks, delay_s: float = 0.0,
              headers=()) -> list[dict]:
    """Send ``chunks`` as a body (``delay_s`` between them) through ``middleware``;
    the messages it sent back."""
    sent = []

    async def go():
        queue = list(chunks)

        async def receive():
            if not queue:
                await asyncio.sleep(3600)
            await asyncio.sleep(delay_s)
            body = queue.pop(0)
            return {"type": "http.request", "body": body, "more_body": bool(queue)}

        async def send(message):
            sent.append(message)

        scope = {"type": "http", "method": method, "path": path, "headers": list(headers),
                 "query_string": b""}
        await asyncio.wait_for(middleware(scope, receive, send), 30)
    asyncio.run(go())
    return sent


def _reader_app():
    async def app(scope, receive, send):                # reads the whole body, then answers
        while True:
            message = await receive()
            if message["type"] == "http.disconnect":
                return
            if not message.get("more_body"):
                break
        await send({"type": "http.response.start", "status": 200, "headers": []})
        await send({"type": "http.response.body", "body": b"ok"})
    return app


def test_slow_page_uploads_are_cut_with_408():
    from genrescope.server.routes import RouteAllowList

    mw = RouteAllowList(_reader_app(), max_upload_bytes=10**6, idle_s=0.3, grace_s=0.3,
                        min_rate=10**6)
    sent = _run_asgi(mw, "POST", "/gradio_api/upload", [b"x" * 10] * 50, delay_s=0.05)
    assert sent[0]["status"] == 408 and len([m for m in sent if m["type"].endswith("start")]) == 1
    stalled = _run_asgi(mw, "POST", "/gradio_api/upload", [b"x", b"y"], delay_s=0.0)
    assert stalled[0]["status"] == 200                   # a complete fast body goes through
    sent = _run_asgi(mw, "POST", "/gradio_api/upload", [b"x" * 600_000] * 4)   # 2.4 MB > 1 MB + 1 MiB
    assert sent[0]["status"] == 413
    sent = _run_asgi(mw, "POST", "/gradio_api/upload", [b""],
                     headers=[(b"content-length", str(10**9).encode())])
    assert sent[0]["status"] == 413


# --- decoding: our demuxers only, bounded in samples and in decoded length ------------

def _secret(tmp_path):
    path = tmp_path / "secret.wav"
    sf.write(path, np.full(16000, 0.5, np.float32), 16000)
    return path


@pytest.mark.parametrize("name,content", [
    ("concat.mp4", "ffconcat version 1.0\nfile 'secret.wav'\n"),
    ("concat.webm", "ffconcat version 1.0\nfile 'secret.wav'\n"),
    ("playlist.m3u8", "#EXTM3U\n#EXT-X-TARGETDURATION:10\n#EXTINF:1,\nsecret.wav\n"
                      "#EXT-X-ENDLIST\n"),
    ("playlist.mp3", "#EXTM3U\n#EXT-X-TARGETDURATION:10\n#EXTINF:1,\nsecret.wav\n"
                     "#EXT-X-ENDLIST\n"),
    ("url.mp4", "file:secret.wav\n"),
    ("list.webm", "#EXTM3U\nfile:///etc/hostname\n"),
])
def test_playlists_and_urls_inside_a_file_are_not_followed(tmp_path, name, content):
    from genrescope.audio import load_audio
    from genrescope.library.analyse import probe_duration_s

    _secret(tmp_path)
    path = tmp_path / name
    path.write_text(content)
    with pytest.raises(GenrescopeError):
        load_audio(path, 16000, duration_s=None)
    assert probe_duration_s(str(path)) is None


def test_our_formats_still_decode_through_ffmpeg(tmp_path):
    from conftest import tone, write_audio
    from genrescope.audio import load_audio

    for ext in (".m4a", ".webm", ".mp4"):
        path = write_audio(tmp_path / f"clip{ext}", tone(440.0, 2.0, 44100), 44100)
        audio = load_audio(path, 16000, duration_s=None)
        assert audio.duration_s == pytest.approx(2.0, abs=0.1)


def test_many_channels_at_a_high_rate_are_refused_before_decoding(tmp_path):
    from genrescope.audio import decode_limit, load_audio

    path = tmp_path / "wide.flac"
    sf.write(path, np.zeros((655_350, 8), np.float32), 655_350, subtype="PCM_16")
    with decode_limit(LIMIT_S), pytest.raises(GenrescopeError) as err:
        load_audio(path, 16000, duration_s=30)
    assert err.value.status == 422 and "M samples" in str(err.value)
    audio = load_audio(path, 16000, duration_s=None)   # no limit (the CLI): mono at 16 kHz
    assert audio.source_channels == 8 and len(audio.y) == 16000


def test_decoded_length_is_capped_whatever_the_header_says(tmp_path):
    from genrescope.audio import decode_limit, load_audio

    path = tmp_path / "long.wav"
    sf.write(path, np.zeros(16000 * 25, np.float32), 16000)
    with decode_limit(20.0):
        with pytest.raises(GenrescopeError) as err:
            load_audio(path, 16000, duration_s=None)      # "whole file": 25 s > 20 s
        assert err.value.status == 422 and "20 s" in str(err.value)
    with decode_limit(20.0):                             # windows of one request add up
        load_audio(path, 16000, offset_s=0, duration_s=12)
        with pytest.raises(GenrescopeError):
            load_audio(path, 16000, offset_s=12, duration_s=None)


def test_library_similar_caps_a_file_whose_header_lies(lib_client, monkeypatch):
    import genrescope.server.library as server_library

    monkeypatch.setattr(server_library, "probe_duration_s", lambda path: 20.0)
    monkeypatch.setattr("genrescope.library.analyse.probe_duration_s", lambda path: 20.0)
    path = lib_client.root / "long.wav"
    sf.write(path, np.zeros(8000 * int(LIMIT_S * 2), np.float32), 8000)
    with open(path, "rb") as f:
        r = lib_client.post("/api/v1/library/similar", files={"file": ("long.wav", f)})
    assert r.status_code == 422 and f"{LIMIT_S:g} s" in r.json()["error"], r.text
