"""REST API of ``genrescope serve`` (genrescope.server), in-process with TestClient.

One app per module (the model loads once); uploads land in a test folder
that must be empty again after every request.
"""

from __future__ import annotations

import os
import threading
import time
from pathlib import Path

import numpy as np
import pytest

from conftest import tone, write_audio

os.environ["GRADIO_ANALYTICS_ENABLED"] = "False"

from fastapi.testclient import TestClient  # noqa: E402

from genrescope.labels import CCMUSIC_GENRES  # noqa: E402
from genrescope.models.registry import DEFAULT_MODEL  # noqa: E402
from genrescope.server.app import create_app, is_loopback
from genrescope.server.uploads import safe_extension  # noqa: E402

MODEL = "vgg19_bn_cqt"
BASE = "http://127.0.0.1"          # the server answers only to its own names (Host check)
ZH_NAMES = {g.zh for g in CCMUSIC_GENRES}


@pytest.fixture(scope="module")
def upload_tmp(tmp_path_factory):
    return tmp_path_factory.mktemp("uploads")


@pytest.fixture(scope="module")
def client(official_models_dir, upload_tmp):
    app = create_app(official_models_dir, MODEL, device="cpu", tmp_dir=upload_tmp,
                     precision="fp32")
    with TestClient(app, base_url=BASE) as c:
        yield c


@pytest.fixture(scope="module")
def clip(tmp_path_factory):
    path = tmp_path_factory.mktemp("clips") / "clip.wav"
    sr = 22050
    t = np.arange(8 * sr) / sr
    y = 0.3 * np.sin(2 * np.pi * 220 * t) + 0.2 * np.sin(2 * np.pi * 330 * t * (1 + t / 40))
    return write_audio(path, y, sr)


@pytest.fixture(autouse=True)
def _uploads_removed(upload_tmp):
    yield
    assert list(upload_tmp.iterdir()) == [], "an upload folder was left behind"


def _post(client, path, name=None, **data):
    with open(path, "rb") as f:
        return client.post("/api/v1/classify", files={"file": (name or path.name, f)},
                           data={k: str(v) for k, v in data.items()})


def test_classify_shape(client, clip):
    r = _post(client, clip, model=MODEL)
    assert r.status_code == 200, r.text
    body = r.json()
    assert body["model"] == MODEL
    assert body["file"] == "clip.wav"
    assert len(body["top"]) == 5
    for g in body["top"]:
        assert set(g) >= {"label", "name", "probability"}
        assert 0.0 <= g["probability"] <= 1.0
    probs = [g["probability"] for g in body["top"]]
    assert probs == sorted(probs, reverse=True)
    assert isinstance(body["warnings"], list)
    assert all(set(w) == {"code", "message"} for w in body["warnings"])
    assert set(body["timings"]) >= {"decode", "features", "network", "total"}


def test_classify_options(client, clip):
    r = _post(client, clip, model=MODEL, top_k=3, lang="zh", offset_s=2, duration_s=0)
    assert r.status_code == 200, r.text
    body = r.json()
    assert len(body["top"]) == 3
    assert all(g["name"] in ZH_NAMES for g in body["top"])
    assert body["audio"]["offset_s"] == 2
    assert body["audio"]["duration_s"] == pytest.approx(6.0, abs=0.05)   # whole file after 2 s


def test_default_model_is_the_servers(client, clip):
    r = _post(client, clip)                       # no model field: the app's default
    assert r.status_code == 200, r.text
    assert r.json()["model"] == MODEL


def test_client_file_name_is_not_a_path(client, clip):
    r = _post(client, clip, name="../../../etc/passwd.wav", model=MODEL)
    assert r.status_code == 200, r.text
    assert r.json()["file"] == "passwd.wav"


@pytest.mark.parametrize("name, content", [("empty.wav", b""),
                                           ("noise.mp3", np.random.default_rng(0).bytes(4096))])
def test_unreadable_audio_is_422(client, tmp_path, name, content):
    path = tmp_path / name
    path.write_bytes(content)
    r = _post(client, path, model=MODEL)
    assert r.status_code == 422
    assert set(r.json()) == {"error"}
    assert str(tmp_path) not in r.json()["error"]
    assert "genrescope-upload" not in r.json()["error"], "server path leaked"


def test_unknown_model_is_404(client, clip):
    r = _post(client, clip, model="no_such_model")
    assert r.status_code == 404
    assert "no_such_model" in r.json()["error"]


def test_missing_weights_is_404_with_reason(client, clip, official_models_dir):
    r = _post(client, clip, model="vgg16_bn_cqt")
    assert r.status_code == 404
    error = r.json()["error"]
    assert "vgg16_bn_cqt" in error and "<models-dir>/vgg16_bn_cqt/save.pt" in error
    assert str(official_models_dir.resolve()) not in error       # no server paths shown


@pytest.mark.parametrize("data", [{"top_k": "many"}, {"top_k": "0"}, {"lang": "fr"},
                                  {"offset_s": "-1"}, {"duration_s": "x"}, {"topk": "3"}])
def test_bad_form_values_are_422(client, clip, data):
    r = _post(client, clip, model=MODEL, **data)
    assert r.status_code == 422
    assert set(r.json()) == {"error"}
    assert next(iter(data)) in r.json()["error"]


def test_no_file_is_422(client):
    r = client.post("/api/v1/classify", data={"model": MODEL})
    assert r.status_code == 422 and "file" in r.json()["error"]
    r = client.post("/api/v1/classify", files={"other": ("a.wav", b"RIFF")})
    assert r.status_code == 422 and "file" in r.json()["error"]


def test_upload_over_limit_is_413(official_models_dir, tmp_path, clip):
    app = create_app(official_models_dir, device="cpu", max_upload_mb=0.01,
                     tmp_dir=tmp_path)                   # 10 KiB; no model named
    assert app.state.pool.default == DEFAULT_MODEL
    with TestClient(app, base_url=BASE) as c:
        default = [m["name"] for m in c.get("/api/v1/models").json() if m["default"]]
        assert default == [DEFAULT_MODEL]
        r = _post(c, clip)                                       # ~350 KB: stopped mid-stream
        assert r.status_code == 413
        assert "0.01 MB" in r.json()["error"]
        big = tmp_path / "big.bin"
        big.write_bytes(b"\0" * (2 * 1024 * 1024))              # refused by Content-Length
        r = _post(c, big)
        assert r.status_code == 413
        assert app.state.pool.loaded() == [], "nothing should be analysed"
    assert list(tmp_path.glob("genrescope-upload-*")) == []


def test_models(client, official_models_dir):
    r = client.get("/api/v1/models")
    assert r.status_code == 200
    models = {m["name"]: m for m in r.json()}
    assert models[MODEL]["available"] is True
    assert "reason" not in models[MODEL]
    assert [g["label"] for g in models[MODEL]["labels"]] == [g.id for g in CCMUSIC_GENRES]
    assert models[MODEL]["labels"][0]["name_zh"] == "交响乐"
    missing = models["vgg16_bn_cqt"]
    assert missing["available"] is False and "save.pt" in missing["reason"]


def test_healthz(client):
    r = client.get("/healthz")
    assert r.status_code == 200 and r.json()["status"] == "ok"


def test_healthz_answers_during_an_analysis(client, clip, monkeypatch):
    service = client.app.state.service
    gate, started = threading.Event(), threading.Event()
    analyse = service.analyse

    def slow_analyse(*args, **kwargs):
        started.set()
        assert gate.wait(30)
        return analyse(*args, **kwargs)

    monkeypatch.setattr(service, "analyse", slow_analyse)
    result = {}
    worker = threading.Thread(target=lambda: result.update(r=_post(client, clip, model=MODEL)))
    worker.start()
    try:
        assert started.wait(30)
        t0 = time.perf_counter()
        assert client.get("/healthz").status_code == 200
        assert time.perf_counter() - t0 < 2.0
    finally:
        gate.set()
        worker.join(60)
    assert result["r"].status_code == 200


def test_concurrent_requests(client, clip):
    results = []
    threads = [threading.Thread(target=lambda: results.append(_post(client, clip, model=MODEL)))
               for _ in range(4)]
    for t in threads:
        t.start()
    for t in threads:
        t.join(120)
    assert [r.status_code for r in results] == [200] * 4
    assert len({tuple(g["label"] for g in r.json()["top"]) for r in results}) == 1


def test_save_dir_keeps_upload_and_result(client, clip, tmp_path, monkeypatch):
    monkeypatch.setattr(client.app.state.service, "save_dir", tmp_path / "kept")
    r = _post(client, clip, model=MODEL)
    assert r.status_code == 200
    kept = sorted(p.suffix for p in (tmp_path / "kept").iterdir())
    assert kept == [".json", ".wav"]


def test_model_loaded_once(client, clip):
    pool = client.app.state.pool
    assert pool.get(MODEL) is pool.get(MODEL)
    assert len(pool.loaded()) == 1


def test_openapi_documents_the_form(client):
    spec = client.get("/openapi.json").json()
    body = spec["paths"]["/api/v1/classify"]["post"]["requestBody"]
    props = body["content"]["multipart/form-data"]["schema"]["properties"]
    assert {"file", "model", "top_k", "offset_s", "duration_s", "lang"} <= set(props)
    assert client.get("/docs").status_code == 200


def test_page_is_served(client):
    r = client.get("/")
    assert r.status_code == 200 and "<html" in r.text.lower()


def test_helpers():
    assert safe_extension("song.MP3") == ".mp3"
    assert safe_extension("..\\..\\x.wav") == ".wav"
    assert safe_extension("a.wav/../../b") == ""
    assert safe_extension("no_ext") == "" and safe_extension("x.w a v") == ""
    assert is_loopback("127.0.0.1") and is_loopback("::1") and is_loopback("localhost")
    assert not is_loopback("0.0.0.0") and not is_loopback("192.168.1.2")


def test_short_clip_warns(client, tmp_path):
    path = write_audio(tmp_path / "short.flac", tone(440.0, 1.0, 22050), 22050)
    r = _post(client, path, model=MODEL)
    assert r.status_code == 200
    assert "short" in {w["code"] for w in r.json()["warnings"]}


def test_user_examples_and_missing_examples_dir(official_models_dir, tmp_path):
    from genrescope.errors import GenrescopeError

    (tmp_path / "clips").mkdir()
    write_audio(tmp_path / "clips" / "my_song.wav", tone(440.0, 2.0, 22050), 22050)
    (tmp_path / "clips" / "notes.txt").write_text("not audio")
    app = create_app(official_models_dir, MODEL, examples_dir=tmp_path / "clips")
    with TestClient(app, base_url=BASE) as c:
        config = c.get("/config").text
    assert "my_song" in config and "notes.txt" not in config
    with pytest.raises(GenrescopeError, match="no such folder"):
        create_app(official_models_dir, MODEL, examples_dir=tmp_path / "missing")


def test_model_list_is_cached_until_the_folder_changes(tmp_path, monkeypatch):
    import json

    from genrescope.server import service as service_module
    from genrescope.server.service import ModelPool

    calls = []
    find = service_module.find_models
    monkeypatch.setattr(service_module, "find_models",
                        lambda *a: calls.append(a) or find(*a))
    pool = ModelPool(tmp_path)
    first = pool.names()
    assert pool.names() == first and pool.entry(DEFAULT_MODEL).name == DEFAULT_MODEL
    assert len(calls) == 1, "the models folder was scanned again without a change"
    bundle = tmp_path / "my_genres"
    bundle.mkdir()
    config = json.loads((Path(find()[0].path) / "config.json").read_text())
    (bundle / "config.json").write_text(json.dumps(config | {"name": "my_genres"}))
    assert "my_genres" in pool.names() and len(calls) == 2
    (tmp_path / "vgg19_bn_cqt").mkdir()                      # a checkpoint folder appears
    assert not pool.entry("vgg19_bn_cqt").available and len(calls) == 3
    (tmp_path / "vgg19_bn_cqt" / "save.pt").write_bytes(b"")   # ... then its weights
    assert pool.entry("vgg19_bn_cqt").available and len(calls) == 4


def test_pool_loads_in_the_asked_precision(official_models_dir):
    from genrescope.server.service import ModelPool

    pool = ModelPool(official_models_dir, "cpu", MODEL, precision="fp32")
    assert pool.get().model.precision == "fp32"


def test_redoc_bundle_names_no_outside_host(client):
    """Issue 26: ReDoc's logo came from cdn.redoc.ly, which the docs' CSP
    blocks (a CSP error on every /redoc): the served bundle has no outside URL."""
    page = client.get("/redoc")
    assert page.status_code == 200 and "static-offline-docs/redoc.standalone.js" in page.text
    bundle = client.get("/static-offline-docs/redoc.standalone.js")
    assert bundle.status_code == 200 and len(bundle.content) > 500_000
    assert bundle.headers["content-type"].startswith("text/javascript")
    assert b"cdn.redoc.ly" not in bundle.content and b"redocly logo" in bundle.content
    swagger = client.get("/static-offline-docs/swagger-ui.css")      # the mount still serves
    assert swagger.status_code == 200
