"""`genrescope tag --db` (answers and undo records from the library, schema
migration) and `genrescope playlist --genre / --per-genre`."""

from __future__ import annotations

import os
import sqlite3

import pytest
from tags_util import StandInClassifier, make_tagged

from genrescope.cli import main
from genrescope.library.db import SCHEMA_VERSION, LibraryWriter, connect
from genrescope.library.record import TrackRecord, file_job
from genrescope.library.scan import plan_scan
from genrescope.tags.formats import TagFile
from genrescope.tags.run import TagOptions, tag_files, undo_files
from genrescope.tags.undo import JOURNAL_NAME

NAMES = {"jazz": ["Jazz", "爵士"], "rock": ["Rock", "摇滚"]}


def library(db, files_genres):
    """A library of ``{path: (label, probability, warning codes)}`` (no model run)."""
    with LibraryWriter(db) as w:
        w.register_model("stand-in", "v1", list(NAMES), NAMES, 4)
        for path, (label, p, codes) in files_genres.items():
            job = file_job(path)
            w.put(TrackRecord(job.path, job.size, job.mtime_ns, job.content_hash,
                              duration_s=1.5, model="stand-in", model_version="v1",
                              windows="spread:3x10", top=[(label, p)],
                              warnings=[{"code": c, "message": c} for c in codes]))


def no_model():
    raise AssertionError("the library knows these files: no analysis expected")


def test_old_database_is_migrated(tmp_path):
    db = tmp_path / "old.db"
    path = make_tagged(tmp_path / "a.flac")
    library(db, {path: ("jazz", 0.8, ())})
    con = sqlite3.connect(db)                           # make it a schema-1 database
    with con:
        con.execute("DROP TABLE tag_writes")
        con.execute("UPDATE meta SET value='1' WHERE key='schema_version'")
    con.close()
    con = connect(db)
    assert con.execute("SELECT value FROM meta WHERE key='schema_version'").fetchone()[0] \
        == str(SCHEMA_VERSION)
    assert con.execute("SELECT count(*) FROM tag_writes").fetchone()[0] == 0
    assert con.execute("SELECT count(*) FROM tracks").fetchone()[0] == 1


def test_tag_from_library_records_in_db_and_keeps_the_row(tmp_path):
    db = tmp_path / "lib.db"
    a = make_tagged(tmp_path / "a.mp3")
    b = make_tagged(tmp_path / "b.flac", seed=1)
    c = make_tagged(tmp_path / "c.ogg", seed=2)
    library(db, {a: ("jazz", 0.8, ()), b: ("rock", 0.4, ("ambiguous",)), c: ("jazz", 0.9, ())})
    f = TagFile(c)                                      # c changed since it was indexed
    f.set("TITLE", ["new title"])
    f.save()
    clf = StandInClassifier(genre=("blues", "Blues", "蓝调"))
    summary = tag_files([str(tmp_path)], TagOptions(write=True, lang="zh"), db=db,
                        load_classifier=lambda: clf)
    notes = {os.path.basename(r.path): r.note for r in summary.rows}
    assert notes == {"a.mp3": "written", "b.flac": "kept: not sure (ambiguous)",
                     "c.ogg": "written"}
    assert TagFile(a).genres() == ["爵士"] and TagFile(c).genres() == ["蓝调"]
    assert clf.calls == 1                               # only c was analysed
    assert not (tmp_path / JOURNAL_NAME).exists()
    with LibraryWriter(db) as w:                        # a's row follows the new bytes
        plan = plan_scan([str(tmp_path)], w.states(), model_version="v1",
                         windows="spread:3x10")
    assert str(a) not in {j.path for j in plan.analyse}
    summary = undo_files([str(tmp_path)], db=db)
    assert sorted(r.note for r in summary.rows) == ["nothing to undo", "restored", "restored"]
    assert TagFile(a).genres() == ["Rock"] and TagFile(c).genres() == ["Rock"]


def test_cli_write_needs_flag_and_undo(tmp_path, capsys):
    db = tmp_path / "lib.db"
    a = make_tagged(tmp_path / "a.m4a")
    library(db, {a: ("jazz", 0.8, ())})
    before = a.read_bytes()
    assert main(["tag", str(a), "--db", str(db)]) == 0
    assert a.read_bytes() == before
    assert main(["tag", str(a), "--db", str(db), "--write", "--details"]) == 0
    assert TagFile(a).get("----:com.genrescope:source") == ["library"]
    assert main(["tag", str(a), "--db", str(db), "--undo"]) == 0
    assert TagFile(a).genres() == ["Rock"]
    out = capsys.readouterr().out
    assert "restored" in out and "written" in out


def test_genre_playlists(tmp_path, capsys):
    db = tmp_path / "lib.db"
    music = tmp_path / "music" / "sub"
    music.mkdir(parents=True)
    files = [make_tagged(music / f"t{i}.flac", seed=i) for i in range(4)]
    library(db, {files[0]: ("jazz", 0.9, ()), files[1]: ("jazz", 0.3, ("ambiguous",)),
                 files[2]: ("rock", 0.7, ()), files[3]: ("jazz", 0.6, ())})
    out = tmp_path / "lists" / "jazz.m3u8"
    assert main(["playlist", "--db", str(db), "--genre", "jazz", "-o", str(out)]) == 0
    lines = out.read_text(encoding="utf-8").splitlines()
    assert lines[0] == "#EXTM3U" and lines[1].startswith("#EXTINF:")
    assert [x for x in lines if not x.startswith("#")] == ["../music/sub/t0.flac",
                                                          "../music/sub/t3.flac"]
    assert main(["playlist", "--db", str(db), "--genre", "Jazz", "--min-confidence", "0",
                 "-o", str(out)]) == 0
    assert len([x for x in out.read_text().splitlines() if not x.startswith("#")]) == 3
    per = tmp_path / "per"
    assert main(["playlist", "--db", str(db), "--per-genre", str(per), "--lang", "zh"]) == 0
    assert sorted(os.listdir(per)) == sorted(["爵士.m3u8", "摇滚.m3u8"])
    assert main(["playlist", "--db", str(db), "--seed", str(files[0])]) == 2   # -o needed


@pytest.mark.parametrize("flag", ["--write", "--undo"])
def test_cli_missing_path_is_a_user_error(tmp_path, flag):
    assert main(["tag", str(tmp_path / "missing"), flag]) == 2
