"""Similar tracks, playlists, statistics and the map of an indexed library."""

from __future__ import annotations

import json
import os
import shutil
from pathlib import Path

import numpy as np
import pytest
from library_util import music_folder

from genrescope import GenrescopeError
from genrescope.cli import main
from genrescope.library import Library, index, search
from genrescope.library.playlists import write_playlist


@pytest.fixture(scope="module")
def library(tmp_path_factory):
    root = tmp_path_factory.mktemp("lib")
    paths = music_folder(root / "music", 10)
    shutil.copy(paths[0], root / "music" / "copy_of_track00.wav")      # an exact duplicate
    (root / "music" / "broken.wav").write_bytes(b"not audio")
    db = root / "lib.db"
    index([str(root / "music")], str(db), progress=False)
    return db, paths


# -- pure numpy ------------------------------------------------------------- #
def test_nearest_is_exact_and_excludes():
    rng = np.random.default_rng(0)
    unit = search.normalise_rows(rng.normal(size=(500, 16)))
    q = rng.normal(size=16)
    hits = search.nearest(unit, q, 5, exclude=[3])
    expected = np.argsort(-(unit @ (q / np.linalg.norm(q))))
    expected = [i for i in expected if i != 3][:5]
    assert [i for i, _ in hits] == expected
    assert all(a[1] >= b[1] for a, b in zip(hits, hits[1:]))


def test_sonic_path_and_seeds_never_repeat():
    rng = np.random.default_rng(1)
    unit = search.normalise_rows(rng.normal(size=(40, 8)))
    path = search.sonic_path(unit, 2, 7, 10)
    assert (path[0], path[-1], len(path), len(set(path))) == (2, 7, 10, 10)
    assert len(search.sonic_path(unit[:5], 0, 4, 50)) == 5           # capped by the library
    seeds = search.around_seeds(unit, [5, 9], 12)
    assert seeds[0] == 5 and 9 in seeds and len(seeds) == len(set(seeds)) == 12


def test_genre_and_timeline_similarity():
    a = [{"start_s": 0, "end_s": 3, "p": [1, 0]}, {"start_s": 3, "end_s": 6, "p": [0, 1]}]
    b = [{"start_s": 0, "end_s": 3, "p": [0, 1]}, {"start_s": 3, "end_s": 6, "p": [1, 0]}]
    assert search.timeline_similarity(a, a) == pytest.approx(1.0)
    assert search.timeline_similarity(a, b) == pytest.approx(0.0)
    assert search.genre_overlap(np.array([0.5, 0.5]), np.array([0.5, 0.5])) == pytest.approx(1)


# -- the Library object ---------------------------------------------------- #
def test_similar_finds_the_duplicate_first_with_reasons(library):
    db, paths = library
    with Library(db) as lib:
        hits = lib.similar(str(paths[0]), k=4)
        assert len(hits) == 4
        assert hits[0].track.path.endswith("copy_of_track00.wav")
        assert hits[0].similarity == pytest.approx(1.0, abs=1e-5)
        assert all(h.track.path != str(paths[0]) for h in hits)       # not itself
        assert [h.similarity for h in hits] == sorted((h.similarity for h in hits), reverse=True)
        assert hits[0].timeline_similarity == pytest.approx(1.0, abs=1e-3)
        name = hits[0].track.genre_name(hits[0].track.top[0][0], "en")
        assert hits[0].reason("en").startswith(f"sounds very alike; both {name}")
        assert hits[0].reason("zh").startswith("听起来非常相似；都是")
        by_id = lib.similar(hits[0].track.id, k=1)
        assert by_id[0].track.path == str(paths[0])


def test_similar_analyses_a_file_outside_the_library(library, tmp_path):
    db, paths = library
    outside = tmp_path / "elsewhere.wav"
    shutil.copy(paths[5], outside)
    with Library(db) as lib:
        hits = lib.similar(str(outside), k=3)
        assert hits[0].track.path == str(paths[5])
        assert hits[0].similarity == pytest.approx(1.0, abs=1e-4)
        with pytest.raises(GenrescopeError, match="neither a track"):
            lib.similar(str(tmp_path / "missing.wav"))


def test_playlist_path_starts_and_ends_where_asked(library, tmp_path):
    db, paths = library
    with Library(db) as lib:
        tracks = lib.path(str(paths[1]), str(paths[6]), length=6)
        assert tracks[0].path == str(paths[1]) and tracks[-1].path == str(paths[6])
        assert len(tracks) == 6 and len({t.id for t in tracks}) == 6
        around = lib.playlist_around([str(paths[2]), str(paths[7])], length=5)
        assert around[0].path == str(paths[2]) and len({t.id for t in around}) == 5
        out = write_playlist(tracks, tmp_path / "lists" / "p.m3u8")
    lines = out.read_text(encoding="utf-8").splitlines()
    assert lines[0] == "#EXTM3U"            # paths relative to the playlist's folder
    assert lines[1].startswith("#EXTINF:4,")
    assert lines[2] == os.path.relpath(paths[1], tmp_path / "lists").replace(os.sep, "/")
    assert (out.parent / lines[-1]).resolve() == Path(paths[6]).resolve()


def test_search_stats_and_failed(library):
    db, paths = library
    with Library(db) as lib:
        assert len(lib) == 12
        assert [t.path for t in lib.tracks("track03")] == [str(paths[3])]
        assert lib.tracks("%") == []                                # LIKE wildcards escaped
        top = lib.tracks("track01")[0].top[0][0]
        assert all(t.top[0][0] == top for t in lib.tracks(genre=top, limit=100))
        stats = lib.stats()
        assert stats.n_tracks == 12 and len(stats.failed) == 1
        assert sum(n for _, n in stats.per_genre) == 11
        assert "broken.wav" in stats.text() and "无法分析" in stats.text("zh")
        assert lib.thumbnail(lib.tracks("track01")[0].id)[:2] == b"\xff\xd8"   # JPEG


def test_map_opens_offline(library, tmp_path):
    db, _ = library
    out = tmp_path / "map.html"
    with Library(db) as lib:
        lib.write_map(out)
    text = out.read_text(encoding="utf-8")
    assert "track01" in text and "Library map: 11 tracks" in text
    assert "<script src=\"http" not in text and "cdn.plot.ly" not in text.split("<body>")[-1][:2000]
    assert len(text) > 1_000_000                                    # plotly.js is inlined
    # one colour per genre, whatever the language and the library (genrescope.palette)
    from genrescope.palette import genre_colour

    with Library(db) as lib:
        labels = {t.top[0][0] for t in lib.tracks(None, limit=100) if t.top}
        lib.write_map(tmp_path / "zh.html", lang="zh")
    zh = (tmp_path / "zh.html").read_text(encoding="utf-8")
    for label in labels:
        assert f'"color":"{genre_colour(label)}"' in text.replace(" ", "")
        assert f'"color":"{genre_colour(label)}"' in zh.replace(" ", "")


def test_big_library_map_draws_a_seeded_sample_projected_once(library, tmp_path, monkeypatch):
    """Above MAP_MAX_TRACKS the map draws a seeded random sample and says so;
    the projection is kept until the library changes (a language switch
    redraws without projecting again)."""
    import sqlite3

    from genrescope.library import map as library_map

    rows = library_map.sample_rows(1000, max_rows=50, seed=0)
    assert len(set(rows)) == 50 and list(rows) == sorted(rows) and rows.max() < 1000
    assert (rows == library_map.sample_rows(1000, max_rows=50, seed=0)).all()
    assert (library_map.sample_rows(30, max_rows=50) == np.arange(30)).all()
    db = tmp_path / "lib.db"
    shutil.copy(library[0], db)
    projected = []
    project = library_map.project_2d
    monkeypatch.setattr(library_map, "project_2d",
                        lambda unit, **kw: projected.append(len(unit)) or project(unit, **kw))
    monkeypatch.setattr(library_map, "MAP_MAX_TRACKS", 6)
    with Library(db) as lib:
        en, zh = lib.map_figure(lang="en"), lib.map_figure(lang="zh")
        assert projected == [6]                                     # once for both languages
        assert sum(len(trace.x) for trace in en.data) == 6
        assert "Library map: 11 tracks" in en.layout.title.text
        assert "6 shown at random" in en.layout.title.text and "随机显示 6 首" in zh.layout.title.text
        with sqlite3.connect(db) as other:
            other.execute("DELETE FROM tracks WHERE id = (SELECT min(id) FROM tracks "
                          "WHERE error IS NULL)")
        again = lib.map_figure(lang="en")
        assert projected == [6, 6] and "Library map: 10 tracks" in again.layout.title.text


def test_map_legend_order_is_the_same_in_every_process():
    """Genres with as many tracks each come in the order of their ids (a set's
    order changed with each process's string hashing: the same library drew
    its legend, and its points' stacking, in another order at each start)."""
    from genrescope.library.map import MapLayout, map_figure
    from genrescope.library.results import Track

    labels = ["rock", "jazz", "rock", "jazz", "blues", "country", "country"]
    tracks = [Track(id=i, path=f"/m/{i}.ogg", size=1, duration_s=30.0, model="genres",
                    windows="spread:4x3", top=[(g, 0.9)], warnings=[], error=None)
              for i, g in enumerate(labels)]
    fig = map_figure(MapLayout(np.zeros((len(tracks), 2)), tracks, "PCA", len(tracks)))
    assert [trace.name for trace in fig.data] == ["Country (2)", "Jazz (2)", "Rock (2)",
                                                  "Blues (1)"]


def test_palette_is_colour_blind_safe_and_stable():
    from genrescope.palette import GENRE_COLOURS, OKABE_ITO, TOL_MUTED, genre_colour

    assert genre_colour("jazz") != genre_colour("classical")
    assert set(GENRE_COLOURS.values()) <= set(OKABE_ITO + TOL_MUTED) | {"#777777"}
    assert len(set(GENRE_COLOURS.values())) == len(GENRE_COLOURS)
    assert genre_colour("Symphony") == genre_colour("symphony") == genre_colour("Symphony")


def test_cli_similar_playlist_library(library, tmp_path, capsys):
    db, paths = library
    assert main(["similar", str(paths[0]), "--db", str(db), "-k", "2", "--format", "json"]) == 0
    hits = json.loads(capsys.readouterr().out)
    assert len(hits) == 2 and hits[0]["track"]["title"] == "copy_of_track00"
    out = tmp_path / "path.m3u8"
    assert main(["playlist", "--db", str(db), "--from", str(paths[1]), "--to", str(paths[2]),
                 "--length", "4", "-o", str(out)]) == 0
    assert out.read_text().count("#EXTINF") == 4
    capsys.readouterr()
    assert main(["playlist", "--db", str(db), "-o", str(out)]) == 2
    assert "--from A --to B" in capsys.readouterr().err
    assert main(["library", "--db", str(db), "--format", "json"]) == 0
    assert json.loads(capsys.readouterr().out)["n_tracks"] == 12
    assert main(["similar", "x.wav", "--db", str(tmp_path / "none.db")]) == 2
    assert "genrescope index" in capsys.readouterr().err


def _hit(similarity, other_top, query_top, shared, timeline=None):
    from genrescope.library.results import Hit, Track

    track = Track(id=1, path="/x/a.wav", size=1, duration_s=30.0,
                  model="m", windows="w", top=other_top, warnings=[], error=None,
                  names={"jazz": ("Jazz", "爵士"), "classical": ("Classical", "古典"),
                         "hiphop": ("Hip-hop", "嘻哈"), "reggae": ("Reggae", "雷鬼")})
    return Hit(track, similarity, shared, 0.02, timeline, query_top=query_top)


def test_reasons_agree_with_the_numbers():
    """Issue 26: a 0.74-similar jazz track for a classical query is not "2 %
    alike"; a genre near 0 % in the query is never "shared"."""
    labels = ["classical", "hiphop", "jazz", "reggae"]
    query = np.array([0.98, 0.0, 0.02, 0.0])
    jazz = np.array([0.01, 0.0, 0.99, 0.0])
    assert search.shared_genres(query, jazz, labels) == []
    reggae = np.array([0.0, 0.04, 0.0, 0.96])
    assert "hiphop" not in search.shared_genres(np.array([0.0, 0.01, 0.0, 0.99]), reggae, labels)
    assert search.shared_genres(np.array([0.5, 0.0, 0.5, 0.0]), np.array([0.6, 0, 0.4, 0]),
                                labels) == ["classical", "jazz"]

    hit = _hit(0.74, [("jazz", 0.99), ("classical", 0.01)], ("classical", 0.98), [])
    assert hit.reason("en") == ("sounds somewhat alike, but another genre: Jazz (99%), "
                                "the chosen track Classical (98%)")
    assert hit.reason("zh") == "听起来有些相似，但流派不同：它是爵士（99%），所选曲目是古典（98%）"
    assert "%" not in _hit(0.95, [("jazz", 0.9)], ("jazz", 0.8), ["jazz"], 0.9).reason("en")
    assert _hit(0.95, [("jazz", 0.9)], ("jazz", 0.8), ["jazz"], 0.9).reason("en") == \
        "sounds very alike; both Jazz; the same genres at the same moments"
    assert _hit(0.3, [("reggae", 0.9)], ("hiphop", 0.9), []).reason("en").startswith(
        "sounds a little alike, but another genre: Reggae")


def test_reasons_name_instruments_heard_in_both():
    """Issue 23: a similar track's reason may name what both tracks have in
    them (from the stored ``heard``; "instrumental" is not an instrument)."""
    from genrescope.library.results import shared_heard
    from genrescope.library.results import Track

    def heard(*labels):
        names = {"Violin_fiddle": ("Violin, fiddle", "小提琴"), "Cello": ("Cello", "大提琴"),
                 "Piano": ("Piano", "钢琴"), "Instrumental": ("Instrumental", "纯音乐")}
        return [{"kind": "instrumental" if label == "Instrumental" else "instrument",
                 "label": label, "name_en": names[label][0], "name_zh": names[label][1],
                 "score": 0.9 - 0.1 * i} for i, label in enumerate(labels)]

    def track(*labels):
        return Track(id=1, path="/m/a.ogg", size=1, duration_s=30.0, model="genres",
                     windows="spread:4x3", top=[("classical", 0.9)], warnings=[], error=None,
                     heard=heard(*labels))

    query, other = track("Instrumental", "Violin_fiddle", "Cello"), \
        track("Instrumental", "Cello", "Piano", "Violin_fiddle")
    both = shared_heard(query, other)
    assert [h["label"] for h in both] == ["Cello", "Violin_fiddle"]
    assert shared_heard(None, other) == [] and shared_heard(track("Piano"), track("Cello")) == []
    hit = _hit(0.95, [("classical", 0.9)], ("classical", 0.9), ["classical"])
    hit.shared_heard = both
    assert hit.reason("en") == "sounds very alike; both Classical; both with cello and violin"
    assert hit.reason("zh").endswith("都有大提琴、小提琴")
    assert hit.to_dict()["shared_heard"] == ["Cello", "Violin_fiddle"]


def test_library_overview_counts_heard_and_notes():
    """`genrescope library` (text and JSON) says what was heard and which notes
    the tracks have, with the counts the filters find (issue 23)."""
    from genrescope.library.overview import LibraryStats
    from genrescope.library.results import Track

    def track(i, heard, codes):
        return Track(id=i, path=f"/m/{i}.ogg", size=1, duration_s=30.0, model="genres",
                     windows="spread:4x3", top=[("classical", 0.9)], error=None,
                     warnings=[{"code": c, "message": c} for c in codes],
                     heard=[{"kind": "instrument", "label": h, "name_en": h, "name_zh": h + "zh",
                             "score": 0.5} for h in heard])

    stats = LibraryStats.of([track(1, ["Piano"], ["outside"]), track(2, ["Piano", "Cello"], []),
                             track(3, [], ["outside", "ambiguous"])])
    as_json = stats.to_dict("en")
    assert as_json["heard"] == [{"label": "Piano", "name": "Piano", "tracks": 2},
                                {"label": "Cello", "name": "Cello", "tracks": 1}]
    assert {n["code"]: n["tracks"] for n in as_json["notes"]} == {"outside": 2, "ambiguous": 1}
    assert "heard: Piano 2, Cello 1" in stats.text("en")
    assert "听到：Pianozh 2, Cellozh 1" in stats.text("zh")
    # a label counts every track the filter finds by it: "Guitar" also finds
    # "Electric guitar" (one of its words), each track once
    words = LibraryStats.of([track(1, ["Guitar"], []), track(2, ["Electric guitar"], []),
                             track(3, ["Guitar", "Electric guitar"], [])])
    assert dict(words.heard) == {"Guitar": 3, "Electric guitar": 2}


def test_stats_are_read_again_only_after_the_database_changed(library, tmp_path):
    """The page asks for the library's counts at every language switch: they
    are kept until another connection (the indexer) commits a change."""
    import sqlite3

    db = tmp_path / "lib.db"
    shutil.copy(library[0], db)
    with Library(db) as lib:
        first = lib.stats()
        assert lib.stats() is first and first.n_tracks == 12
        with sqlite3.connect(db) as other:
            other.execute("DELETE FROM tracks WHERE error IS NOT NULL")
        again = lib.stats()
        assert again is not first and again.n_tracks == 11 and again.failed == []
