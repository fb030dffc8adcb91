"""Library indexing: incremental runs, unreadable files, window plans, crash safety."""

from __future__ import annotations

import os
import signal
import sqlite3
import subprocess
import sys
import time
from pathlib import Path

import numpy as np
import pytest
import soundfile as sf
from library_util import SR, music_folder, track

from genrescope import GenrescopeError
from genrescope.cli import main
from genrescope.library import WindowPlan, index


def rows(db: Path) -> dict[str, tuple]:
    con = sqlite3.connect(db)
    try:
        return {r[0]: r[1:] for r in con.execute(
            "SELECT path, id, content_hash, error, windows, top_label, length(embedding), "
            "length(thumbnail_jpeg), indexed_at FROM tracks")}
    finally:
        con.close()


def test_window_plan_parse_and_place():
    plan = WindowPlan.parse("spread:3x10")
    assert str(plan) == "spread:3x10"
    assert plan.windows(240.0) == [(43.0, 10.0), (115.0, 10.0), (187.0, 10.0)]
    assert plan.windows(20.0) == [(0.0, None)]          # short track: once, whole
    assert WindowPlan.parse("start:30").windows(240.0) == [(0.0, 30.0)]
    assert WindowPlan.parse("full").windows(240.0) == [(0.0, None)]
    assert WindowPlan.parse("spread:4x5").windows(100.0)[-1][0] == pytest.approx(77.5)
    with pytest.raises(GenrescopeError, match="spread:NxSECONDS"):
        WindowPlan.parse("middle")


def test_index_then_incremental_changes(tmp_path):
    music = tmp_path / "music"
    paths = music_folder(music, 6)
    (music / "broken.mp3").write_bytes(b"this is not audio" * 10)
    db = tmp_path / "lib.db"

    s1 = index([str(music)], str(db), progress=False)
    assert (s1.indexed, len(s1.failed)) == (6, 1)
    r1 = rows(db)
    assert len(r1) == 7
    broken = r1[str(music / "broken.mp3")]
    assert broken[2] and "broken.mp3" in broken[2]            # the error is recorded
    good = [v for k, v in r1.items() if not k.endswith(".mp3")]
    assert all(v[2] is None and v[5] > 0 and v[6] > 0 and v[4] for v in good)
    assert {v[3] for v in good} == {str(WindowPlan())}                # the default plan

    s2 = index([str(music)], str(db), progress=False)     # nothing changed
    assert (s2.indexed, s2.unchanged, len(s2.failed)) == (0, 7, 0)
    assert rows(db) == r1

    sf.write(paths[0], track(20), SR)                        # changed content
    moved_to = music / "renamed" / "moved.wav"               # moved, same bytes
    moved_to.parent.mkdir()
    os.rename(paths[1], moved_to)
    os.remove(paths[2])                                      # deleted
    sf.write(music / "new.wav", track(21), SR)               # new
    s3 = index([str(music)], str(db), progress=False)
    assert (s3.indexed, s3.changed, s3.moved, s3.deleted, s3.unchanged) == (2, 1, 1, 1, 4)
    r3 = rows(db)
    assert set(r3) == {str(p) for p in paths[3:]} | {str(paths[0]), str(moved_to),
                                                      str(music / "new.wav"),
                                                      str(music / "broken.mp3")}
    assert r3[str(moved_to)] == r1[str(paths[1])]            # same row, analysis kept
    assert r3[str(paths[0])][1] != r1[str(paths[0])][1]      # new hash, analysed again
    assert r3[str(paths[0])][0] == r1[str(paths[0])][0]      # in its own row


def test_other_window_plan_reanalyses_and_is_stored(tmp_path):
    music = tmp_path / "music"
    music_folder(music, 2, duration_s=8.0)
    db = tmp_path / "lib.db"
    index([str(music)], str(db), progress=False)
    s = index([str(music)], str(db), windows="start:3", progress=False)
    assert s.indexed == 2
    assert {v[3] for v in rows(db).values()} == {"start:3"}


def test_index_cli_summary_and_missing_folder(tmp_path, capsys):
    music = tmp_path / "music"
    music_folder(music, 2)
    db = tmp_path / "lib.db"
    assert main(["index", str(music), "--db", str(db)]) == 0
    assert "indexed 2" in capsys.readouterr().out
    assert main(["index", str(tmp_path / "nope"), "--db", str(db)]) == 2
    assert "No such folder" in capsys.readouterr().err


@pytest.mark.slow
def test_sigkill_mid_run_then_rerun_finishes(tmp_path):
    music = tmp_path / "music"
    files = music_folder(music, 12)
    (music / "broken.wav").write_bytes(b"RIFF....WAVEjunk")
    db = tmp_path / "lib.db"
    cmd = [sys.executable, "-m", "genrescope.cli", "index", str(music), "--db", str(db)]
    proc = subprocess.Popen(cmd, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    try:
        n = 0
        for _ in range(1200):                     # wait until a few tracks are committed
            if proc.poll() is not None:
                break
            if db.exists():
                try:
                    n = len(rows(db))
                except sqlite3.OperationalError:
                    n = 0
                if n >= 3:
                    break
            time.sleep(0.1)
        assert proc.poll() is None, "the run ended before it could be killed"
        os.kill(proc.pid, signal.SIGKILL)
        proc.wait()
    finally:
        if proc.poll() is None:
            proc.kill()
    partial = rows(db)
    assert 3 <= len(partial) < len(files) + 1            # killed mid-way
    summary = index([str(music)], str(db), progress=False)
    assert summary.unchanged == len(partial)
    final = rows(db)
    assert sorted(final) == sorted(str(p) for p in files + [music / "broken.wav"])
    con = sqlite3.connect(db)
    try:
        assert con.execute("PRAGMA integrity_check").fetchone()[0] == "ok"
        counts = con.execute("SELECT path, count(*) FROM tracks GROUP BY path").fetchall()
        assert {c for _, c in counts} == {1}
        assert con.execute("SELECT count(*) FROM tracks WHERE error IS NOT NULL").fetchone()[0] == 1
    finally:
        con.close()


@pytest.mark.slow
def test_two_workers_give_the_same_rows_as_one(tmp_path):
    music = tmp_path / "music"
    music_folder(music, 4)
    one, two = tmp_path / "one.db", tmp_path / "two.db"
    index([str(music)], str(one), progress=False, precision="fp32")
    index([str(music)], str(two), progress=False, precision="fp32", workers=2)

    def analysis(db):
        con = sqlite3.connect(db)
        out = {p: (t, np.frombuffer(e, "<f4")) for p, t, e in con.execute(
            "SELECT path, top_label, embedding FROM tracks")}
        con.close()
        return out

    a, b = analysis(one), analysis(two)
    assert a.keys() == b.keys()
    for path in a:
        assert a[path][0] == b[path][0]
        np.testing.assert_allclose(a[path][1], b[path][1], rtol=1e-4, atol=1e-5)


def test_classify_embed_is_embed_audio_in_one_pass(tmp_path):
    """The indexer's call: classify(embed=True) gives the same scores as classify and
    the same embedding as embed_audio (one network pass instead of two)."""
    from genrescope import Classifier

    path = tmp_path / "a.wav"
    sf.write(path, track(1, 8.0), SR)
    clf = Classifier.load()
    plain = clf.classify(str(path))
    both = clf.classify(str(path), embed=True)
    assert plain.embedding is None
    np.testing.assert_allclose(both.chunk_probabilities, plain.chunk_probabilities, atol=1e-6)
    np.testing.assert_allclose(both.embedding, clf.embed_audio(plain.audio), atol=1e-5)


@pytest.mark.slow
def test_ctrl_c_with_two_workers_keeps_what_was_committed(tmp_path):
    music = tmp_path / "music"
    files = music_folder(music, 24)           # tracks still to do when the interrupt comes
    db = tmp_path / "lib.db"
    cmd = [sys.executable, "-m", "genrescope.cli", "index", str(music), "--db", str(db),
           "--workers", "2"]
    # Ctrl-C as a terminal delivers it, even when this test runs in a background job
    # (which starts with SIGINT ignored, and Python then keeps ignoring it)
    proc = subprocess.Popen(cmd, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True,
                            preexec_fn=lambda: signal.signal(signal.SIGINT, signal.SIG_DFL))
    try:
        for _ in range(3000):
            if proc.poll() is not None:
                break
            try:
                if db.exists() and len(rows(db)) >= 2:
                    break
            except sqlite3.OperationalError:
                pass
            time.sleep(0.1)
        assert proc.poll() is None, "the run ended before it could be interrupted"
        proc.send_signal(signal.SIGINT)
        out, err = proc.communicate(timeout=300)
    finally:
        if proc.poll() is None:
            proc.kill()
    assert proc.returncode == 130, err[-2000:]
    assert "interrupted" in out
    assert "Traceback" not in err
    kept = rows(db)
    assert 2 <= len(kept) <= len(files)
    summary = index([str(music)], str(db), progress=False)
    assert summary.unchanged == len(kept) and len(rows(db)) == len(files)


def test_windows_in_one_batched_pass_equal_one_classify_per_window(tmp_path):
    """Classifier.classify_windows (all windows' patches through the network at
    once) gives what one ``classify(embed=True)`` per window gives."""
    from genrescope import Classifier

    path = tmp_path / "long.wav"
    sf.write(path, np.concatenate([track(i, 6.0) for i in range(4)]), SR)
    clf = Classifier.load(None, precision="fp32")
    windows = WindowPlan().windows(24.0) + [(1.0, 7.0)]
    batched = clf.classify_windows(str(path), windows)
    for (offset_s, length_s), got in zip(windows, batched):
        want = clf.classify(str(path), offset_s=offset_s, duration_s=length_s, embed=True)
        assert got.audio.offset_s == want.audio.offset_s
        assert len(got.chunk_probabilities) == len(want.chunk_probabilities)
        np.testing.assert_allclose(got.embedding, want.embedding, atol=1e-5)
        assert got.top[0].label == want.top[0].label
        np.testing.assert_allclose([got.probabilities[g] for g in want.probabilities],
                                   list(want.probabilities.values()), atol=1e-5)
        assert [w.code for w in got.warnings] == [w.code for w in want.warnings]
        assert [h.name.id for h in got.heard] == [h.name.id for h in want.heard]   # companion too
