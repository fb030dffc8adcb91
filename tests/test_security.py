"""Issue 17: what a client (or any web page the user opens) must not be able
to do to ``genrescope serve``. Each test here failed on the server before the
fixes: server files read through the page's endpoint, ``/dev/zero`` freezing
it, URL inputs fetched, unbounded analyses, foreign ``Host``/``Origin``
accepted, 500s on odd numbers and damaged files, 404s in the wrong shape,
unterminated bodies analysed, slow clients kept forever, absolute paths shown.
"""

from __future__ import annotations

import json
import logging
import os
import socket
import struct
import time
from pathlib import Path

import httpx
import numpy as np
import pytest
import soundfile as sf

from conftest import tone, write_audio
from serve_util import in_process_server

os.environ.setdefault("GRADIO_ANALYTICS_ENABLED", "False")

from fastapi.testclient import TestClient  # noqa: E402

from genrescope.errors import GenrescopeError  # noqa: E402
from genrescope.server.page import REFUSED  # noqa: E402
from genrescope.server.app import create_app  # noqa: E402

MODEL = "vgg19_bn_cqt"
LIMIT_S = 60.0


@pytest.fixture(scope="module")
def gradio_dir(tmp_path_factory):
    """The page's upload folder (GRADIO_TEMP_DIR) for this module's servers."""
    folder = tmp_path_factory.mktemp("gradio-cache")
    old = os.environ.get("GRADIO_TEMP_DIR")
    os.environ["GRADIO_TEMP_DIR"] = str(folder)
    yield folder
    if old is None:
        os.environ.pop("GRADIO_TEMP_DIR", None)
    else:
        os.environ["GRADIO_TEMP_DIR"] = old


@pytest.fixture(scope="module")
def app(official_models_dir, gradio_dir, tmp_path_factory):
    return create_app(official_models_dir, MODEL, device="cpu", precision="fp32",
                      tmp_dir=tmp_path_factory.mktemp("uploads"), max_duration_s=LIMIT_S)


@pytest.fixture(scope="module")
def client(app):
    with TestClient(app, base_url="http://127.0.0.1") as c:
        yield c


@pytest.fixture(scope="module")
def live(app):
    """The same app on a real loopback socket (uvicorn in a daemon thread: a
    request that freezes the event loop fails the test instead of hanging it)."""
    with in_process_server(app) as base:
        yield base


@pytest.fixture(scope="module")
def clip(tmp_path_factory) -> Path:
    return write_audio(tmp_path_factory.mktemp("clips") / "clip.wav", tone(330.0, 4.0, 22050),
                       22050)


def _post(client, path: Path, **data):
    with open(path, "rb") as f:
        return client.post("/api/v1/classify", files={"file": (path.name, f)},
                           data={k: str(v) for k, v in data.items()})


def _page_call(base: str, audio, timeout: float = 60, lang: str = "en") -> tuple[str, str]:
    """The page's ``classify`` endpoint as any HTTP client can call it:
    returns (last SSE event, its data)."""
    with httpx.Client(trust_env=False, timeout=timeout) as http:
        r = http.post(f"{base}/gradio_api/call/classify",
                      json={"data": [audio, MODEL, 30, 0, False, lang]})
        assert r.status_code == 200, r.text
        event_id = r.json()["event_id"]
        text = http.get(f"{base}/gradio_api/call/classify/{event_id}").text
    events = [line.split(":", 1)[1].strip() for line in text.splitlines()
              if line.startswith("event:")]
    data = [line.split(":", 1)[1].strip() for line in text.splitlines()
            if line.startswith("data:")]
    return events[-1], data[-1]


def _file_data(path) -> dict:
    return {"path": str(path), "meta": {"_type": "gradio.FileData"}}


# ------------------------------------------------------------ 1. page file read
def test_page_refuses_server_files(live, gradio_dir, tmp_path, clip, capfd):
    secret = tmp_path / "secret-song.wav"
    secret.write_bytes(clip.read_bytes())
    answers = {}
    for path in (secret, tmp_path / "missing.wav", "/etc/passwd"):
        event, data = _page_call(live, _file_data(path))
        assert event == "error", (path, event, data)
        answers[str(path)] = data
    assert len(set(answers.values())) == 1, answers          # existence not revealed
    assert REFUSED in next(iter(answers.values()))
    copied = [p for p in gradio_dir.rglob("*") if p.is_file()
              and p.read_bytes() == secret.read_bytes()]
    assert copied == [], "a server file was copied into the page's cache"
    with httpx.Client(trust_env=False, timeout=60) as http:      # Gradio's own refusal
        uploaded = http.post(f"{live}/gradio_api/upload", files={
            "files": ("a.wav", clip.read_bytes(), "audio/wav")}).json()[0]
    event, data = _page_call(live, _file_data(uploaded), lang="xx")
    assert event == "error" and "xx" in data
    assert "Traceback" not in capfd.readouterr().err, "a refusal logged a traceback"


def test_page_refuses_dev_zero_and_stays_up(live):
    event, data = _page_call(live, _file_data("/dev/zero"), timeout=30)
    assert event == "error" and REFUSED in data
    assert httpx.get(live + "/healthz", timeout=5, trust_env=False).json()["status"] == "ok"


def test_page_refuses_url_inputs(live):
    url = live + "/healthz"
    for value in ({"path": url, "url": url, "meta": {"_type": "gradio.FileData"}}, url):
        event, data = _page_call(live, value)
        assert event == "error" and REFUSED in data, (value, data)


def test_page_analyse_refuses_paths_outside_uploads(app, tmp_path, clip):
    from genrescope.server.page import is_page_file

    assert not is_page_file("/dev/zero", [])
    assert not is_page_file("\0", []) and not is_page_file("a\0b.wav", [])
    assert not is_page_file("http://127.0.0.1/x.wav", [])
    assert not is_page_file(clip, [])
    assert is_page_file(clip, [str(clip)])
    inside = Path(os.environ["GRADIO_TEMP_DIR"]) / "abc" / "x.wav"
    assert is_page_file(inside, [])
    assert not is_page_file(Path(os.environ["GRADIO_TEMP_DIR"]) / ".." / "x.wav", [])


def test_gradio_client_still_works_on_loopback(live, clip, tmp_path):
    gradio_client = pytest.importorskip("gradio_client")
    client = gradio_client.Client(live + "/", verbose=False, download_files=str(tmp_path))
    headline, bars, notes, timings, image = client.predict(     # headline: issue 16
        gradio_client.handle_file(str(clip)), MODEL, 30, 0, False, "en", api_name="/classify")
    assert len(bars["confidences"]) == 5


# ------------------------------------------------------------------ 3. the bomb
@pytest.fixture(scope="module")
def ten_minutes(tmp_path_factory) -> Path:
    """A 10-minute silent FLAC: a few KB that decode to 10 minutes of audio."""
    path = tmp_path_factory.mktemp("bomb") / "silence.flac"
    sf.write(path, np.zeros(600 * 8000, np.float32), 8000, subtype="PCM_16")
    assert path.stat().st_size < 200_000
    return path


@pytest.mark.parametrize("duration_s", [0, 120])
def test_long_request_refused_naming_the_limit(client, ten_minutes, duration_s, monkeypatch):
    r = _post(client, ten_minutes, duration_s=duration_s)
    assert r.status_code == 422, r.text
    assert f"{LIMIT_S:g} s" in r.json()["error"]


def test_window_within_the_limit_is_analysed(client, ten_minutes):
    r = _post(client, ten_minutes, duration_s=30, offset_s=500)
    assert r.status_code == 200, r.text


def test_network_runs_in_fixed_batches():
    from genrescope import Classifier
    from genrescope.predict import NETWORK_BATCH

    clf = Classifier.load(precision="fp32")
    sizes = []
    scores = clf.model.scores

    def recording(inputs):
        sizes.append(len(inputs))
        return scores(inputs)

    clf.model.scores = recording
    pred = clf.classify(tone(440.0, 120.0, 16000), sr=16000, duration_s=0)
    n_chunks = pred.chunk_probabilities.shape[0]
    assert n_chunks > NETWORK_BATCH
    assert max(sizes) <= NETWORK_BATCH and sum(sizes) == n_chunks


# --------------------------------------------------------- 4. Host and Origin
@pytest.mark.parametrize("host, status", [
    ("127.0.0.1:7860", 200), ("localhost:7860", 200), ("[::1]:7860", 200), ("LOCALHOST", 200),
    ("evil.example", 400), ("evil.example:7860", 400), ("127.0.0.1.nip.io", 400), ("", 400)])
def test_host_allow_list(client, host, status):
    r = client.get("/healthz", headers={"host": host})
    assert r.status_code == status, (host, r.text)
    if status != 200:
        assert set(r.json()) == {"error"}


def test_named_host_can_be_allowed(official_models_dir, gradio_dir):
    app = create_app(official_models_dir, MODEL, device="cpu", precision="fp32",
                     hosts=["music.example"])
    with TestClient(app, base_url="http://music.example") as c:
        assert c.get("/healthz").status_code == 200
        assert c.get("/healthz", headers={"host": "other.example"}).status_code == 400


@pytest.mark.parametrize("headers", [
    {"origin": "http://evil.example"}, {"origin": "http://localhost:3000"},
    {"origin": "null"}, {"sec-fetch-site": "cross-site"}, {"sec-fetch-site": "same-site"},
    {"origin": "http://127.0.0.1:8080"}])
def test_cross_site_posts_refused(client, clip, headers, monkeypatch):
    calls = []
    monkeypatch.setattr(client.app.state.service, "analyse",
                        lambda *a, **k: calls.append(a))
    with open(clip, "rb") as f:
        r = client.post("/api/v1/classify", files={"file": ("a.wav", f)}, headers=headers)
    assert r.status_code == 403, r.text
    assert calls == []
    r = client.post("/gradio_api/upload", files={"files": ("a.wav", b"RIFF")}, headers=headers)
    assert r.status_code == 403
    assert "access-control-allow-origin" not in r.headers
    r = client.options("/gradio_api/upload", headers={
        **headers, "access-control-request-method": "POST"})
    assert r.status_code == 403 and "access-control-allow-origin" not in r.headers


def test_same_origin_page_requests_work(client, clip):
    same = {"origin": "http://127.0.0.1", "sec-fetch-site": "same-origin"}
    with open(clip, "rb") as f:
        r = client.post("/api/v1/classify", files={"file": ("a.wav", f)}, headers=same)
    assert r.status_code == 200, r.text
    r = client.post("/gradio_api/upload", files={"files": ("a.wav", clip.read_bytes())},
                    headers=same)
    assert r.status_code == 200, r.text
    # a link followed from another site opens the page (a navigation, GET)
    r = client.get("/", headers={"sec-fetch-site": "cross-site", "sec-fetch-mode": "navigate"})
    assert r.status_code == 200


@pytest.mark.parametrize("path", ["/", "/api/v1/models", "/healthz", "/docs", "/config",
                                  "/api/v1/nothing"])
def test_security_headers_everywhere(client, path):
    r = client.get(path)
    assert r.headers["x-frame-options"] == "DENY"
    assert "frame-ancestors 'none'" in r.headers["content-security-policy"]
    assert r.headers["x-content-type-options"] == "nosniff"
    assert r.headers["referrer-policy"] == "same-origin"


# --------------------------------------------------------- 5. 500s become 422
@pytest.mark.parametrize("field", ["offset_s", "duration_s"])
@pytest.mark.parametrize("value", ["inf", "Infinity", "-inf", "nan", "1e308", "1e7"])
def test_odd_numbers_are_422(client, clip, field, value):
    r = _post(client, clip, **{field: value})
    assert r.status_code == 422, r.text
    assert field in r.json()["error"]


def _wav_header(fmt_tag: int, channels: int, sr: int, bits: int, data: bytes,
                block: int | None = None) -> bytes:
    block = block or channels * bits // 8
    fmt = struct.pack("<HHIIHH", fmt_tag, channels, sr, sr * block, block, bits)
    body = (b"WAVE" + b"fmt " + struct.pack("<I", len(fmt)) + fmt + b"data"
            + struct.pack("<I", len(data)) + data)
    return b"RIFF" + struct.pack("<I", len(body)) + body


@pytest.mark.parametrize("name, content", [
    ("unknown-codec.wav", _wav_header(0x1234, 1, 8000, 16, bytes(4000))),
    ("two-gigahertz.wav", _wav_header(1, 1, 0x7FFFFFFF, 16, bytes(4000))),
    ("no-channels.wav", _wav_header(1, 0, 8000, 16, bytes(4000)))])
def test_damaged_headers_are_422(client, tmp_path, name, content):
    path = tmp_path / name
    path.write_bytes(content)
    r = _post(client, path)
    assert r.status_code == 422, r.text
    assert name in r.json()["error"]


def test_huge_offset_on_a_pyav_file_is_422(client, tmp_path):
    path = write_audio(tmp_path / "clip.m4a", tone(440.0, 3.0, 22050), 22050)
    for offset in ("900000", "1e12"):
        r = _post(client, path, offset_s=offset)
        assert r.status_code == 422, (offset, r.text)


def test_enormous_float_samples_do_not_overflow(client, tmp_path):
    path = tmp_path / "loud.wav"
    rng = np.random.default_rng(0)
    y = np.clip(rng.standard_normal(44100 * 3) * 3e38, -3.3e38, 3.3e38)   # finite float32
    sf.write(path, y.astype(np.float32), 44100, subtype="FLOAT")         # resampling overflowed
    r = _post(client, path)
    assert r.status_code == 200, r.text
    assert "clipping" in {w["code"] for w in r.json()["warnings"]}
    assert all(np.isfinite(g["probability"]) for g in r.json()["top"])


def test_audio_functions_check_the_window(clip):
    from genrescope.audio import audio_from_array, load_audio

    for bad in (float("inf"), float("nan"), -1.0, 1e308):
        with pytest.raises(GenrescopeError, match="offset_s"):
            load_audio(clip, 22050, offset_s=bad)
        with pytest.raises(GenrescopeError, match="duration_s"):
            audio_from_array(np.zeros(100), 22050, 22050, duration_s=bad)
    with pytest.raises(GenrescopeError, match="limit of 1 s"):
        load_audio(clip, 22050, duration_s=0, max_duration_s=1.0)
    with pytest.raises(GenrescopeError, match="sample rate"):
        audio_from_array(np.zeros(100), float("inf"), 22050)


# ------------------------------------------------------------------- 6. smaller
@pytest.mark.parametrize("method, path, allow", [
    ("GET", "/api/v1/classify", "POST"), ("PUT", "/api/v1/classify", "POST"),
    ("DELETE", "/api/v1/models", "GET"), ("POST", "/healthz", "GET"),
    ("TRACE", "/api/v1/models", "GET"), ("TRACE", "/healthz", "GET")])
def test_wrong_method_is_405_in_error_shape(client, method, path, allow):
    r = client.request(method, path)
    assert r.status_code == 405, r.text
    assert set(r.json()) == {"error"} and allow in r.headers["allow"]


def test_unknown_api_path_is_404_in_error_shape(client):
    r = client.get("/api/v1/nothing")
    assert r.status_code == 404 and set(r.json()) == {"error"}


def _multipart(content: bytes, boundary: bytes = b"xyzBOUNDARY") -> tuple[bytes, dict]:
    body = (b"--" + boundary + b"\r\nContent-Disposition: form-data; name=\"file\"; "
            b"filename=\"a.wav\"\r\nContent-Type: audio/wav\r\n\r\n" + content + b"\r\n--"
            + boundary + b"--\r\n")
    return body, {"content-type": f"multipart/form-data; boundary={boundary.decode()}"}


def test_body_without_closing_boundary_is_refused(client, clip, monkeypatch):
    calls = []
    monkeypatch.setattr(client.app.state.service, "analyse", lambda *a, **k: calls.append(a))
    body, headers = _multipart(clip.read_bytes())
    r = client.post("/api/v1/classify", content=body[:len(body) // 2], headers=headers)
    assert r.status_code == 422 and "boundary" in r.json()["error"], r.text
    assert calls == []


def _raw_request(base: str, head_body: bytes) -> socket.socket:
    host, port = base.rsplit("/", 1)[-1].split(":")
    sock = socket.create_connection((host, int(port)), timeout=30)
    sock.sendall(head_body)
    return sock


def _request_head(body_length: int, headers: dict) -> bytes:
    lines = ["POST /api/v1/classify HTTP/1.1", "Host: 127.0.0.1",
             f"Content-Length: {body_length}", *(f"{k}: {v}" for k, v in headers.items())]
    return ("\r\n".join(lines) + "\r\n\r\n").encode()


def test_slow_uploads_are_timed_out(live, app, clip, monkeypatch):
    service = app.state.service
    monkeypatch.setattr(service, "upload_idle_s", 1.0)
    body, headers = _multipart(clip.read_bytes())
    sock = _raw_request(live, _request_head(len(body), headers) + body[:1000])   # then silence
    with sock:
        answer = sock.recv(65536).decode(errors="replace")
    assert answer.startswith("HTTP/1.1 408"), answer[:200]
    # a trickle: some bytes keep coming, too slowly on average
    monkeypatch.setattr(service, "upload_idle_s", 30.0)
    monkeypatch.setattr(service, "upload_grace_s", 0.5)
    monkeypatch.setattr(service, "min_upload_rate", 100.0)
    sock = _raw_request(live, _request_head(len(body), headers) + body[:10])
    with sock:
        for i in range(40):
            time.sleep(0.1)
            try:
                sock.sendall(body[10 + i:11 + i])
            except OSError:
                break
        answer = sock.recv(65536).decode(errors="replace")
    assert answer.startswith("HTTP/1.1 408"), answer[:200]


def test_no_analysis_for_a_client_that_left(live, app, clip, monkeypatch, caplog):
    calls = []
    monkeypatch.setattr(app.state.service, "analyse", lambda *a, **k: calls.append(a))
    body, headers = _multipart(clip.read_bytes())
    with caplog.at_level(logging.INFO):
        sock = _raw_request(live, _request_head(len(body), headers) + body)
        sock.shutdown(socket.SHUT_WR)
        sock.close()
        # and one that leaves in the middle of its upload
        sock = _raw_request(live, _request_head(len(body), headers) + body[:2000])
        sock.close()
        time.sleep(2.0)
    assert calls == []
    logged = "\n".join(r.getMessage() + (str(r.exc_info) if r.exc_info else "")
                       for r in caplog.records)
    assert "Traceback" not in logged and "Exception in ASGI" not in logged, logged
    assert httpx.get(live + "/healthz", trust_env=False).status_code == 200


def test_models_list_shows_no_server_paths(client, clip, official_models_dir):
    text = client.get("/api/v1/models").text
    assert str(official_models_dir) not in text and str(official_models_dir.resolve()) not in text
    reason = {m["name"]: m for m in json.loads(text)}["vgg16_bn_cqt"]["reason"]
    assert "<models-dir>/vgg16_bn_cqt/save.pt" in reason
    r = _post(client, clip, model="vgg16_bn_cqt")
    assert r.status_code == 404 and str(official_models_dir.resolve()) not in r.json()["error"]
