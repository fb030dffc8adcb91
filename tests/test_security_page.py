"""Issue 28, round two: the page's answers name no server folder (uploads,
queue and call/ results, refusals of file=), while the page still works
with the names it is given; the client's malformed page requests leave no
traceback in the server's log. Each test failed on the code before the fix.
"""

from __future__ import annotations

import json
import os
import re
import time
from pathlib import Path

import httpx
import pytest
import soundfile as sf

from serve_util import in_process_server
from test_security import gradio_dir  # noqa: F401 - the page's upload folder fixture

os.environ.setdefault("GRADIO_ANALYTICS_ENABLED", "False")

from genrescope.server.app import create_app  # noqa: E402
from genrescope.synth import chord  # noqa: E402

REPO = Path(__file__).resolve().parents[1]


@pytest.fixture(scope="module")
def live(gradio_dir, tmp_path_factory):
    """The app on a real loopback socket (uvicorn in a daemon thread)."""
    app = create_app(device="cpu", tmp_dir=tmp_path_factory.mktemp("uploads"),
                     max_duration_s=60.0)
    with in_process_server(app) as base:
        yield base


@pytest.fixture(scope="module")
def clip(tmp_path_factory) -> Path:
    path = tmp_path_factory.mktemp("clip") / "chords.wav"
    sf.write(path, chord(4.0, 22050, root_hz=196.0), 22050, subtype="PCM_16")
    return path


def _server_paths(text: str, gradio_dir: Path) -> list[str]:
    """Absolute server paths in ``text``: the page's upload folder, the
    system's temporary folder, the repository."""
    folders = {str(gradio_dir), os.path.realpath(gradio_dir), "/tmp/", str(REPO)}
    return [f for f in folders if f in text or json.dumps(f)[1:-1] in text]


def _call(client: httpx.Client, base: str, data: list) -> tuple[str, str]:
    """The last event of a ``call/classify`` and the whole stream."""
    r = client.post(f"{base}/gradio_api/call/classify", json={"data": data})
    assert r.status_code == 200, r.text
    text = client.get(f"{base}/gradio_api/call/classify/{r.json()['event_id']}").text
    events = re.findall(r"^event: (\w+)", text, flags=re.M)
    return events[-1], text


def _queue(client: httpx.Client, base: str, data: list) -> str:
    """The page's own route: queue/join, then the session's data stream."""
    config = client.get(f"{base}/config").json()
    fn = next(i for i, d in enumerate(config["dependencies"]) if d.get("api_name") == "classify")
    r = client.post(f"{base}/gradio_api/queue/join", json={
        "data": data, "fn_index": fn, "session_hash": "sec2test", "event_data": None,
        "trigger_id": None})
    assert r.status_code == 200, r.text
    text = ""
    with client.stream("GET", f"{base}/gradio_api/queue/data",
                       params={"session_hash": "sec2test"}) as stream:
        for chunk in stream.iter_text():
            text += chunk
            if "process_completed" in text:
                break
    return text


def test_page_answers_name_no_server_folder(live, gradio_dir, clip):
    with httpx.Client(trust_env=False, timeout=120) as client:
        up = client.post(f"{live}/gradio_api/upload",
                         files={"files": (clip.name, clip.read_bytes(), "audio/wav")})
        assert up.status_code == 200 and not _server_paths(up.text, gradio_dir), up.text
        name = up.json()[0]
        audio = {"path": name, "meta": {"_type": "gradio.FileData"}, "orig_name": clip.name}
        # the name the page was given works: the analysis, the player's file= URL
        event, text = _call(client, live, [audio, None, 30, 0, True, "en"])
        assert event == "complete" and "Analysis took" in text, text[-500:]
        assert not _server_paths(text, gradio_dir), text
        image = re.search(r'"url": "([^"]+\.png)"', text)
        assert image, text[-800:]                     # the spectrogram, as a file of the cache
        assert client.get(image.group(1)).headers["content-type"] == "image/png"
        r = client.get(f"{live}/gradio_api/file={name}")
        assert r.status_code == 200 and r.content == clip.read_bytes()
        text = _queue(client, live, [audio, None, 30, 0, True, "en"])
        assert '"success":true' in text and not _server_paths(text, gradio_dir), text
        refused = client.get(f"{live}/gradio_api/file={Path(name).parent}/../x.wav")
        assert refused.status_code == 403 and not _server_paths(refused.text, gradio_dir)
        # a token pointing out of the upload folder is still refused
        event, text = _call(client, live, [{"path": name + "/../../../etc/passwd",
                                             "meta": {"_type": "gradio.FileData"}},
                                            None, 30, 0, False, "en"])
        assert event == "error" and "Only audio uploaded" in text


def test_malformed_page_requests_log_no_traceback(live, clip, capfd):
    with httpx.Client(trust_env=False, timeout=120) as client:
        name = client.post(f"{live}/gradio_api/upload", files={
            "files": (clip.name, clip.read_bytes(), "audio/wav")}).json()[0]
        audio = {"path": name, "meta": {"_type": "gradio.FileData"}}
        capfd.readouterr()
        for data in ([], [audio], [5, None, 30, 0, False, "en"],
                     [{"meta": {"_type": "gradio.FileData"}}, None, 30, 0, False, "en"],
                     [{"path": name, "meta": "x"}, None, 30, 0, False, "en"],
                     [audio, None, 30, 0, False, None], [audio, None, {"a": 1}, 0, False, "en"]):
            event, text = _call(client, live, data)
            assert event == "error", (data, text[-300:])
        for body in ('{"fn_index": 0}', "not json", "[1, 2]",
                     '{"data": "x", "fn_index": 0, "session_hash": 5}'):
            r = client.post(f"{live}/gradio_api/queue/join", content=body,
                            headers={"content-type": "application/json"})
            assert r.status_code == 422, (body, r.status_code)
        r = client.post(f"{live}/gradio_api/upload", content=b"garbage",
                        headers={"content-type": "multipart/form-data"})
        assert r.status_code == 400
        assert client.get(f"{live}/healthz").status_code == 200
    time.sleep(0.5)
    err = capfd.readouterr().err
    assert "Traceback" not in err, err[-3000:]


def test_a_page_upload_cut_for_slowness_raises_nothing():
    """The 408 cut tells the app the client left; Gradio's upload route then
    raises ClientDisconnect, which was logged as a traceback per cut upload."""
    import asyncio

    from starlette.requests import Request

    from genrescope.server.routes import RouteAllowList

    async def upload_route(scope, receive, send):      # reads as Gradio's upload route
        async for _ in Request(scope, receive).stream():
            pass
        await send({"type": "http.response.start", "status": 200, "headers": []})
        await send({"type": "http.response.body", "body": b"[]"})

    async def run():
        sent = []
        chunks = iter([b"x"] * 100)

        async def receive():
            await asyncio.sleep(0.05)
            return {"type": "http.request", "body": next(chunks), "more_body": True}

        async def send(message):
            sent.append(message)

        mw = RouteAllowList(upload_route, max_upload_bytes=10**6, idle_s=1.0, grace_s=0.2,
                            min_rate=10**6)
        scope = {"type": "http", "method": "POST", "path": "/gradio_api/upload",
                 "headers": [(b"content-length", b"1000")]}
        await mw(scope, receive, send)                 # before the fix: ClientDisconnect
        return sent

    sent = asyncio.run(run())
    assert sent[0]["status"] == 408
