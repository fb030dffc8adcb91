"""REST routes of the library (``serve --db``), through the real app factory."""

from __future__ import annotations

import io
import os

import pytest
import soundfile as sf
from library_util import SR, music_folder, track

os.environ.setdefault("GRADIO_ANALYTICS_ENABLED", "False")
from fastapi.testclient import TestClient  # noqa: E402

from genrescope.library import WindowPlan, index  # noqa: E402
from genrescope.server.library import analysed_s  # noqa: E402
from genrescope.server.app import create_app  # noqa: E402

BASE = "http://127.0.0.1"


@pytest.fixture(scope="module")
def client(tmp_path_factory):
    root = tmp_path_factory.mktemp("libapi")
    paths = music_folder(root / "music", 6)
    (root / "music" / "broken.wav").write_bytes(b"not audio")
    db = root / "lib.db"
    index([str(root / "music")], str(db), progress=False)
    app = create_app(device="cpu", db=str(db), tmp_dir=root, max_upload_mb=1)
    with TestClient(app, base_url=BASE) as c:
        c.paths, c.root = paths, root
        yield c


def _id(client, name: str) -> int:
    found = client.get("/api/v1/library/tracks", params={"q": name}).json()["tracks"]
    assert len(found) == 1
    return found[0]["id"]


def test_tracks_search_and_one_track(client):
    r = client.get("/api/v1/library/tracks", params={"limit": 100})
    assert r.status_code == 200
    tracks = r.json()["tracks"]
    assert len(tracks) == 7
    broken = [t for t in tracks if t["title"] == "broken"][0]
    assert broken["error"] and broken["top"] == []
    genre = next(t for t in tracks if t["top"])["top"][0]["label"]
    found = client.get("/api/v1/library/search", params={"genre": genre}).json()["tracks"]
    assert found and all(t["top"][0]["label"] == genre for t in found)
    assert client.get("/api/v1/library/search").status_code == 422

    one = client.get(f"/api/v1/library/tracks/{_id(client, 'track02')}",
                     params={"lang": "zh"}).json()
    assert one["path"] == str(client.paths[2]) and one["timeline"]
    assert {"start_s", "end_s", "top"} <= set(one["timeline"][0])
    assert one["top"][0]["name"] and one["duration_s"] == pytest.approx(4.0, abs=0.01)


def test_similar_thumbnail_audio(client):
    tid = _id(client, "track01")
    r = client.get(f"/api/v1/library/tracks/{tid}/similar", params={"k": 3})
    assert r.status_code == 200
    sims = r.json()["similar"]
    assert len(sims) == 3 and all(s["track"]["id"] != tid and s["reason"] for s in sims)
    thumb = client.get(f"/api/v1/library/tracks/{tid}/thumbnail")
    assert thumb.headers["content-type"] == "image/jpeg" and thumb.content[:2] == b"\xff\xd8"
    audio = client.get(f"/api/v1/library/tracks/{tid}/audio")
    assert audio.status_code == 200 and audio.content[:4] == b"RIFF"


def test_errors_are_json(client):
    r = client.get("/api/v1/library/tracks/999999")
    assert r.status_code == 404 and "No track" in r.json()["error"]
    assert client.get("/api/v1/library/tracks", params={"limit": 0}).status_code == 422
    assert "error" in client.get("/api/v1/library/tracks/1/similar",
                                 params={"k": 10**6}).json()


def test_overview_map_and_openapi(client):
    stats = client.get("/api/v1/library").json()
    assert stats["n_tracks"] == 7 and len(stats["failed"]) == 1
    page = client.get("/api/v1/library/map")
    assert page.status_code == 200 and "Library map: 6 tracks" in page.text
    paths = client.get("/openapi.json").json()["paths"]
    assert {"/api/v1/library/tracks", "/api/v1/library/search",
            "/api/v1/library/tracks/{track_id}/similar", "/api/v1/library/similar"} <= set(paths)
    body = paths["/api/v1/library/similar"]["post"]["requestBody"]["content"]
    assert {"file", "k", "lang"} <= set(body["multipart/form-data"]["schema"]["properties"])


def _wav(y) -> bytes:
    buf = io.BytesIO()
    sf.write(buf, y, SR, format="WAV")
    return buf.getvalue()


def test_similar_to_an_uploaded_file(client):
    """A file outside the library: analysed on the fly, k hits with reasons and
    the query's top genres, in the shape of GET /tracks/{id}/similar."""
    r = client.post("/api/v1/library/similar", files={"file": ("new song.wav", _wav(
        track(9, 5.0)), "audio/wav")}, data={"k": "3", "lang": "zh"})
    assert r.status_code == 200, r.text
    out = r.json()
    assert out["track"]["id"] is None and out["track"]["path"] == "new song.wav"
    assert out["track"]["top"] and out["track"]["top"][0]["name"]
    assert out["track"]["windows"] == str(WindowPlan()) and out["track"]["error"] is None
    assert len(out["similar"]) == 3 and all(h["reason"] for h in out["similar"])
    assert out["similar"][0]["reason"].startswith("听起来")          # Chinese reasons
    sims = [h["similarity"] for h in out["similar"]]
    assert sims == sorted(sims, reverse=True)
    expected = client.get(f"/api/v1/library/tracks/{_id(client, 'track01')}/similar").json()
    assert set(out) == set(expected) and set(out["similar"][0]) == set(expected["similar"][0])


def test_uploaded_copy_of_a_track_finds_it_first(client):
    """The same pipeline as the indexer: a copy of a track is its own nearest."""
    data = client.paths[2].read_bytes()
    r = client.post("/api/v1/library/similar", files={"file": ("copy.wav", data)},
                    data={"k": "2"})
    top = r.json()["similar"][0]
    assert top["track"]["path"] == str(client.paths[2])
    assert top["similarity"] == pytest.approx(1.0, abs=1e-4)


def test_similar_upload_refusals(client):
    r = client.post("/api/v1/library/similar",
                    files={"file": ("notes.txt", b"just some text, no audio", "text/plain")})
    assert 400 <= r.status_code < 500 and r.json()["error"]
    assert str(client.root) not in r.json()["error"]
    r = client.post("/api/v1/library/similar",
                    files={"file": ("big.wav", b"\0" * (2 * 1024 * 1024), "audio/wav")})
    assert r.status_code == 413 and r.json()["error"]
    r = client.post("/api/v1/library/similar", files={"file": ("a.wav", _wav(track(1)))},
                    data={"k": "0"})
    assert r.status_code == 422 and "k" in r.json()["error"]
    r = client.post("/api/v1/library/similar", files={"file": ("a.wav", _wav(track(1)))},
                    data={"model": "other"})
    assert r.status_code == 422 and r.json()["error"]
    r = client.post("/api/v1/library/similar", files={"file": ("empty.wav", b"")})
    assert r.status_code == 422 and "empty" in r.json()["error"]
    r = client.get("/api/v1/library/similar")
    assert r.status_code == 405 and r.headers["allow"] == "POST"
    r = client.post("/api/v1/library/similar", files={"file": ("a.wav", _wav(track(1)))},
                    headers={"Origin": "http://elsewhere.example"})
    assert r.status_code == 403 and r.json()["error"]          # same-origin only (guard)


def test_similar_upload_within_the_analysis_cap(client, tmp_path):
    """The server's cap on analysed seconds holds for the library's plan too."""
    app = create_app(device="cpu", db=str(client.root / "lib.db"), tmp_dir=tmp_path,
                     max_duration_s=3)
    with TestClient(app, base_url=BASE) as c:
        r = c.post("/api/v1/library/similar", files={"file": ("long.wav", _wav(track(1)))})
    assert r.status_code == 422 and "at most 3 s" in r.json()["error"]
    assert str(tmp_path) not in r.json()["error"]


def test_analysed_s():
    assert analysed_s(WindowPlan.parse("spread:3x10"), 240.0) == 30.0
    assert analysed_s(WindowPlan.parse("spread:3x10"), 20.0) == 20.0
    assert analysed_s(WindowPlan.parse("spread:3x10"), None) == 30.0
    assert analysed_s(WindowPlan.parse("full"), 240.0) == 240.0
    assert analysed_s(WindowPlan.parse("full"), None) is None


def test_no_db_no_routes(tmp_path):
    app = create_app(device="cpu", tmp_dir=tmp_path)
    with TestClient(app, base_url=BASE) as c:
        assert c.get("/api/v1/library/tracks").status_code == 404
        assert app.state.library is None
