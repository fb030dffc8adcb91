"""`genrescope tag`: per format, write -> read back, nothing else changed
(other tags, picture, decoded audio, MP3 frame bytes, permissions), undo
restores exactly, a dry run changes no byte."""

from __future__ import annotations

import os
import stat

import pytest
from tags_util import (TAG_FORMATS, StandInClassifier, decoded, make_tagged, mp3_audio_bytes,
                       sha256, tag_snapshot)

from genrescope.tags.formats import TagFile
from genrescope.tags.run import TagOptions, tag_files, undo_files
from genrescope.tags.undo import JOURNAL_NAME


def run(paths, **opts):
    clf = StandInClassifier()
    return tag_files([str(p) for p in paths], TagOptions(**opts), load_classifier=lambda: clf)


@pytest.mark.parametrize("ext", TAG_FORMATS)
def test_write_read_back_undo(tmp_path, ext):
    path = make_tagged(tmp_path / f"song.{ext}")
    os.chmod(path, 0o640)
    before_tags = tag_snapshot(path)
    before_others = tag_snapshot(path, without_genre=True)
    before_audio = decoded(path)
    before_frames = mp3_audio_bytes(path) if ext == "mp3" else None
    digest = sha256(path)

    dry = run([tmp_path])
    assert [r.note for r in dry.rows] == ["would write"]
    assert dry.rows[0].current == ["Rock"] and dry.rows[0].new == ["Jazz"]
    assert sha256(path) == digest                               # a dry run writes nothing
    assert not (tmp_path / JOURNAL_NAME).exists()

    done = run([tmp_path], write=True, details=True)
    assert [r.note for r in done.rows] == ["written"] and not done.failed
    tf = TagFile(path)
    assert tf.genres() == ["Jazz"]
    assert tf.get(tf.keys.details["model"]) == ["stand-in"]
    assert tf.get(tf.keys.details["confidence"]) == ["0.9000"]
    assert tag_snapshot(path, without_genre=True) == before_others
    assert (decoded(path) == before_audio).all()
    if ext == "mp3":
        assert mp3_audio_bytes(path) == before_frames
    assert stat.S_IMODE(os.stat(path).st_mode) == 0o640
    assert not [n for n in os.listdir(tmp_path) if "genrescope-tmp" in n]

    again = run([tmp_path], write=True, details=True)
    assert [r.note for r in again.rows] == ["up to date"]

    undone = undo_files([str(tmp_path)])
    assert [r.note for r in undone.rows] == ["restored"] and not undone.failed
    assert tag_snapshot(path) == before_tags                    # genre fields too, exactly
    assert (decoded(path) == before_audio).all()
    assert stat.S_IMODE(os.stat(path).st_mode) == 0o640
    assert [r.note for r in undo_files([str(tmp_path)]).rows] == ["nothing to undo"]


@pytest.mark.parametrize("ext", ["mp3", "flac"])
def test_no_genre_field_restored_as_none(tmp_path, ext):
    path = make_tagged(tmp_path / f"song.{ext}", genre=None)
    before = tag_snapshot(path)
    run([path], write=True, styles=True)
    assert TagFile(path).genres() == ["Jazz", "Swing"]
    undo_files([str(path)])
    assert tag_snapshot(path) == before
    assert TagFile(path).get(TagFile(path).keys.genre) is None


def test_append_only_empty_and_confidence(tmp_path):
    a = make_tagged(tmp_path / "a.flac")
    b = make_tagged(tmp_path / "b.flac", genre=None, seed=1)
    summary = run([tmp_path], write=True, only_empty=True)
    assert {os.path.basename(r.path): r.note for r in summary.rows} == {
        "a.flac": "kept: has a genre (--only-empty)", "b.flac": "written"}
    run([a], write=True, append=True)
    assert TagFile(a).genres() == ["Rock", "Jazz"]
    unsure = StandInClassifier(probability=0.3, warnings=("ambiguous",))
    s = tag_files([str(b)], TagOptions(write=True, lang="zh"), load_classifier=lambda: unsure)
    assert s.rows[0].note == "kept: not sure (ambiguous)" and not s.failed
    s = tag_files([str(b)], TagOptions(write=True, lang="zh", min_confidence=0),
                  load_classifier=lambda: unsure)
    assert s.rows[0].note == "written" and TagFile(b).genres() == ["爵士"]


def test_id3v23_stays_v23(tmp_path):
    from mutagen.id3 import ID3

    path = make_tagged(tmp_path / "old.mp3")
    tags = ID3(path)
    tags.save(v2_version=3)
    run([path], write=True)
    assert ID3(path).version[:2] == (2, 3) and TagFile(path).genres() == ["Jazz"]


def test_cli_dry_run_table_and_exit_status(tmp_path, official_models_dir, capsys):
    from genrescope.cli import main

    path = make_tagged(tmp_path / "song.flac")
    digest = sha256(path)
    rc = main(["tag", str(tmp_path), "--model", "vgg19_bn_cqt", "--models-dir",
               str(official_models_dir), "--precision", "fp32"])
    out = capsys.readouterr().out
    assert rc == 0 and sha256(path) == digest
    header = [c.strip() for c in out.splitlines()[0].split("|")]
    assert header[:4] == ["file", "current genre tag", "new genre tag", "confidence"]
    assert "dry run" in out
    assert "Rock" in out
