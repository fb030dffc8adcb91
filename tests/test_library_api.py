"""REST routes of the library (``serve --db``), through the real app factory."""

from __future__ import annotations

import os

import pytest
from library_util import music_folder

os.environ.setdefault("GRADIO_ANALYTICS_ENABLED", "False")
from fastapi.testclient import TestClient  # noqa: E402

from genrescope.library import index  # noqa: E402
from genrescope.web import create_app  # noqa: E402

BASE = "http://127.0.0.1"


@pytest.fixture(scope="module")
def client(tmp_path_factory):
    root = tmp_path_factory.mktemp("libapi")
    paths = music_folder(root / "music", 6)
    (root / "music" / "broken.wav").write_bytes(b"not audio")
    db = root / "lib.db"
    index([str(root / "music")], str(db), progress=False)
    app = create_app(device="cpu", db=str(db), tmp_dir=root)
    with TestClient(app, base_url=BASE) as c:
        c.paths = paths
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
            "/api/v1/library/tracks/{track_id}/similar"} <= set(paths)


def test_no_db_no_routes(tmp_path):
    app = create_app(device="cpu", tmp_dir=tmp_path)
    with TestClient(app, base_url=BASE) as c:
        assert c.get("/api/v1/library/tracks").status_code == 404
        assert app.state.library is None
