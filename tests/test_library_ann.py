"""The approximate similarity index beside the library database (genrescope.library.ann).

The libraries here are written row by row with synthetic embeddings (no audio,
no model): a few hundred tracks in a handful of clusters, and the ANN path is
forced with a low ``min_tracks``.
"""

from __future__ import annotations

import os
import sqlite3

import numpy as np
import pytest

from genrescope.library import Library, ann
from genrescope.library.db import LibraryWriter, generation
from genrescope.library.record import TrackRecord

N_TRACKS = 600
DIM = 32
LABELS = ["a", "b", "c"]


def _record(i: int, embedding: np.ndarray) -> TrackRecord:
    p = np.array([0.6, 0.3, 0.1], np.float32)
    return TrackRecord(f"/music/{i:04d}.mp3", 1000 + i, i, f"{i:032x}", duration_s=200.0,
                       model="synthetic", model_version="synthetic@0", windows="spread:3x10",
                       top=[("a", 0.6), ("b", 0.3), ("c", 0.1)], probabilities=p,
                       embedding=embedding.astype(np.float32),
                       timeline=[{"start_s": 0.0, "end_s": 3.0, "p": p.tolist()}])


def _embeddings(n: int, seed: int = 0) -> np.ndarray:
    rng = np.random.default_rng(seed)
    centres = rng.normal(size=(12, DIM))
    return np.maximum(centres[rng.integers(0, 12, n)] + 0.5 * rng.normal(size=(n, DIM)), 0)


@pytest.fixture()
def db(tmp_path):
    path = tmp_path / "lib.db"
    with LibraryWriter(path) as w:
        w.register_model("synthetic", "synthetic@0", LABELS, {g: [g, g] for g in LABELS}, DIM)
        for i, e in enumerate(_embeddings(N_TRACKS)):
            w.put(_record(i, e))
    return path


def test_generation_counts_every_change_of_an_analysis(db):
    con = sqlite3.connect(db)
    g0 = generation(con)
    assert g0 == N_TRACKS                                   # one per insert
    with con:
        con.execute("UPDATE tracks SET mtime_ns = 5 WHERE id = 1")     # touch: same analysis
    assert generation(con) == g0
    with con:
        con.execute("UPDATE tracks SET embedding = embedding WHERE id = 1")
    assert generation(con) == g0 + 1
    with con:
        con.execute("DELETE FROM tracks WHERE id = 2")
    assert generation(con) == g0 + 2
    con.close()


def test_ann_and_exact_return_the_same_neighbours(db):
    assert "built for 600 tracks" in ann.refresh(db, min_tracks=10)
    assert ann.ann_path(db).is_file()
    assert "up to date" in ann.refresh(db, min_tracks=10)
    with Library(db, ann_min_tracks=10) as fast, Library(db, ann_min_tracks=10 ** 9) as exact:
        assert (fast.search_method, exact.search_method) == ("approximate", "exact")
        assert fast.search_note is None
        for ref in (1, 77, 300, 599):
            a, b = fast.similar(ref, k=10), exact.similar(ref, k=10)
            assert [h.track.id for h in a] == [h.track.id for h in b]
            assert ref not in [h.track.id for h in a]
            np.testing.assert_allclose([h.similarity for h in a],
                                       [h.similarity for h in b], atol=1e-5)


def test_a_stale_index_is_noticed_and_rebuilt(db):
    ann.refresh(db, min_tracks=10)
    with Library(db, ann_min_tracks=10) as lib:
        assert lib.search_method == "approximate"
        with LibraryWriter(db) as w:                        # the indexer changes one track
            w.put(_record(5, _embeddings(1, seed=9)[0]))
        assert lib.search_method == "exact"
        assert "stale" in lib.search_note
        assert len(lib.similar(5, k=5)) == 5                # exact search still answers
        assert "built" in ann.refresh(db, min_tracks=10)
        assert lib.search_method == "approximate" and lib.search_note is None
    con = sqlite3.connect(db)                               # a change by raw SQL counts too
    with con:
        con.execute("DELETE FROM tracks WHERE id = 9")
    con.close()
    with Library(db, ann_min_tracks=10) as lib:
        assert lib.search_method == "exact" and "stale" in lib.search_note
        assert 9 not in [h.track.id for h in lib.similar(8, k=50)]


@pytest.mark.parametrize("damage", ["truncate", "flip", "garbage"])
def test_a_torn_or_damaged_index_is_noticed(db, damage):
    path = ann.ann_path(db)
    ann.refresh(db, min_tracks=10)
    data = bytearray(path.read_bytes())
    if damage == "truncate":                                # a write cut short
        data = data[:len(data) // 2]
    elif damage == "flip":                                  # one byte changed in the payload
        data[-100] ^= 0xFF
    else:
        data = bytearray(b"\0" * 64)
    path.write_bytes(bytes(data))
    with Library(db, ann_min_tracks=10) as lib:
        assert lib.search_method == "exact"
        assert "exact search" in lib.search_note.lower()
        assert len(lib.similar(3, k=5)) == 5
    assert "built" in ann.refresh(db, min_tracks=10)        # the next index run repairs it
    with Library(db, ann_min_tracks=10) as lib:
        assert lib.search_method == "approximate"


def test_a_crash_while_writing_leaves_the_old_index(db, monkeypatch):
    ann.refresh(db, min_tracks=10)
    path = ann.ann_path(db)
    before = path.read_bytes()
    with LibraryWriter(db) as w:
        w.put(_record(7, _embeddings(1, seed=3)[0]))

    def crash(fd):
        raise OSError("disk gone")

    monkeypatch.setattr(os, "fsync", crash)
    with pytest.raises(OSError):
        ann.refresh(db, min_tracks=10)
    monkeypatch.undo()
    assert path.read_bytes() == before                      # whole, and known to be stale
    assert [p.name for p in path.parent.iterdir() if p.name.endswith(".tmp")] == []
    with Library(db, ann_min_tracks=10) as lib:
        assert lib.search_method == "exact" and "stale" in lib.search_note


def test_small_libraries_have_no_index(db):
    assert "under the size" in ann.refresh(db, min_tracks=10 ** 6)
    assert not ann.ann_path(db).exists()
    ann.refresh(db, min_tracks=10)
    with LibraryWriter(db) as w:
        w.delete([1])
    assert "removed" in ann.refresh(db, min_tracks=10 ** 6)
    assert not ann.ann_path(db).exists()
    with Library(db) as lib:
        assert lib.search_method == "exact" and lib.search_note is None
