"""`genrescope tag` never leaves a half-written file: SIGKILL at random
moments, refusals (read-only, truncated mid-run, not audio, malformed tag)."""

from __future__ import annotations

import json
import os
import random
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest
from tags_util import StandInClassifier, decoded, make_tagged, sha256, tag_snapshot

from genrescope.library.scan import walk_audio
from genrescope.tags import safe
from genrescope.tags.formats import TagFile
from genrescope.tags.run import TagOptions, tag_files, undo_files
from genrescope.tags.undo import JOURNAL_NAME, JournalLog

ROOT = Path(__file__).resolve().parents[1]
WRITER = """
import sys
from types import SimpleNamespace
from genrescope.tags.run import TagOptions, tag_files

score = SimpleNamespace(label="jazz", probability=0.9, name=lambda lang="en": "Jazz")
pred = SimpleNamespace(top=[score], styles=[], warnings=[], heard=[], model="stand-in")
clf = SimpleNamespace(classify=lambda path, **kw: pred)
s = tag_files([sys.argv[1]], TagOptions(write=True), load_classifier=lambda: clf)
sys.exit(1 if s.failed else 0)
"""


def _writer(folder: Path, delay_s: float) -> subprocess.Popen:
    env = dict(os.environ, PYTHONPATH=str(ROOT), **{safe.SLOW_ENV: str(delay_s)})
    return subprocess.Popen([sys.executable, "-c", WRITER, str(folder)], env=env)


def _check_consistent(folder: Path, files: list, originals: dict) -> int:
    """Every file decodes as before and holds the old or the new tags, and
    every new one has its undo record; returns how many are new."""
    audio_files = [Path(p) for p, _ in walk_audio([str(folder)])]
    assert sorted(audio_files) == sorted(files)          # temp copies are not taken for music
    assert all(safe.is_temp(n) for n in os.listdir(folder)
               if n != JOURNAL_NAME and Path(folder, n) not in files)
    log, n_new = JournalLog(), 0
    for path in files:
        audio, others = originals[path]
        assert (decoded(path) == audio).all()
        assert tag_snapshot(path, without_genre=True) == others
        genres = TagFile(path).genres()
        assert genres in (["Rock"], ["Jazz"])
        if genres == ["Jazz"]:
            n_new += 1
            rec = log.latest(str(path))
            assert rec is not None and rec.before == {"GENRE": ["Rock"]} \
                and rec.after == {"GENRE": ["Jazz"]}
    return n_new


@pytest.mark.slow
def test_sigkill_leaves_files_old_or_new(tmp_path):
    rng = random.Random(0)
    files = [make_tagged(tmp_path / f"t{i:02d}.flac", seed=i) for i in range(40)]
    originals = {p: (decoded(p), tag_snapshot(p, without_genre=True)) for p in files}
    killed, seen_new = 0, []
    for _ in range(6):
        proc = _writer(tmp_path, delay_s=0.02)
        time.sleep(rng.uniform(0.4, 2.0))
        if proc.poll() is None:
            os.kill(proc.pid, signal.SIGKILL)
            killed += 1
        proc.wait()
        seen_new.append(_check_consistent(tmp_path, files, originals))
    assert killed >= 3, "the writer finished before any kill: nothing was tested"
    proc = _writer(tmp_path, delay_s=0)                      # a rerun finishes the job
    assert proc.wait() == 0
    assert _check_consistent(tmp_path, files, originals) == len(files)
    assert not [n for n in os.listdir(tmp_path) if safe.is_temp(n)]   # stale copies cleaned
    lines = (tmp_path / JOURNAL_NAME).read_text().splitlines()
    writes = [json.loads(x) for x in lines if x.strip().startswith("{") and x.endswith("}")]
    assert {w["file"] for w in writes if w["op"] == "write"} == {p.name for p in files}
    summary = undo_files([str(tmp_path)])
    assert not summary.failed
    assert all(TagFile(p).genres() == ["Rock"] for p in files)


def _run(paths, **kw):
    clf = StandInClassifier()
    return tag_files([str(p) for p in paths], TagOptions(write=True, **kw),
                     load_classifier=lambda: clf)


def test_refusals_one_line_each_rest_goes_on(tmp_path):
    good = make_tagged(tmp_path / "good.mp3")
    readonly = make_tagged(tmp_path / "readonly.flac", seed=1)
    os.chmod(readonly, 0o444)
    text = tmp_path / "text.mp3"
    text.write_text("not audio at all\n" * 100)
    huge = make_tagged(tmp_path / "huge.mp3", seed=2)
    data = bytearray(huge.read_bytes())
    data[6:10] = bytes([0x7F, 0x7F, 0x7F, 0x7F])            # ID3 size: 256 MiB
    huge.write_bytes(bytes(data))
    other = tmp_path / "video.webm"
    make_tagged(tmp_path / "x.m4a", seed=3).rename(other)
    digests = {p: sha256(p) for p in (readonly, text, huge, other)}

    summary = _run([tmp_path])
    notes = {os.path.basename(r.path): r.note for r in summary.rows}
    assert notes["good.mp3"] == "written"
    assert notes["readonly.flac"].startswith("failed: read-only file")
    assert notes["text.mp3"].startswith("failed: unreadable or malformed tags")
    assert notes["huge.mp3"].startswith("failed: its ID3 tag claims")
    assert notes["video.webm"].startswith("skipped: not a format")
    assert {os.path.basename(r.path) for r in summary.failed} == {
        "readonly.flac", "text.mp3", "huge.mp3"}
    assert all(sha256(p) == d for p, d in digests.items())
    assert os.stat(readonly).st_mode & 0o777 == 0o444


def test_file_truncated_mid_run_is_not_written(tmp_path, monkeypatch):
    a = make_tagged(tmp_path / "a.flac")
    b = make_tagged(tmp_path / "b.flac", seed=1)
    cut = {}

    def truncate_a():                        # another program cuts a.flac mid-write
        if not cut:
            data = a.read_bytes()
            a.write_bytes(data[: len(data) // 2])
            cut["bytes"] = sha256(a)

    monkeypatch.setattr(safe, "_test_pause", truncate_a)
    summary = _run([tmp_path])
    notes = {os.path.basename(r.path): r.note for r in summary.rows}
    assert notes["a.flac"].startswith("failed: changed during the run")
    assert notes["b.flac"] == "written"
    assert sha256(a) == cut["bytes"]          # left as the other program made it
    assert not [n for n in os.listdir(tmp_path) if safe.is_temp(n)]
    assert JournalLog().latest(str(a)) is None


def test_undo_leaves_files_changed_since(tmp_path):
    path = make_tagged(tmp_path / "a.ogg")
    _run([path])
    f = TagFile(path)
    f.set("GENRE", ["Edited by hand"])
    f.save()
    summary = undo_files([str(path)])
    assert summary.rows[0].note.startswith("kept: changed since") and summary.failed
    assert TagFile(path).genres() == ["Edited by hand"]


def test_stale_temp_copies_are_cleaned(tmp_path):
    path = make_tagged(tmp_path / "a.flac")
    dead = subprocess.Popen([sys.executable, "-c", "pass"])
    dead.wait()
    stale = tmp_path / f".a.flac{safe.TEMP_MARK}{dead.pid}"
    stale.write_bytes(path.read_bytes()[:100])
    assert safe.is_temp(stale.name)
    assert [p for p, _ in walk_audio([str(tmp_path)])] == [str(path)]
    _run([tmp_path])
    assert not stale.exists()
