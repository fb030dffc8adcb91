"""The Library tab's filters by instrument or voice heard and by note, and a
track's "Heard" line and notes, without a browser (issue 23): a library
written row by row with chosen ``heard`` and notes."""

from __future__ import annotations

import pytest

from genrescope.library import Library
from genrescope.library.db import LibraryWriter
from genrescope.library.record import TrackRecord
from genrescope.server.page.library import _choices, _hearing, find_tracks

VIOLIN = ("instrument", "Violin_fiddle", "Violin, fiddle", "小提琴", 0.8)
CELLO = ("instrument", "Cello", "Cello", "大提琴", 0.4)
GUITAR = ("instrument", "Guitar", "Guitar", "吉他", 0.3)
ELECTRIC = ("instrument", "Electric_guitar", "Electric guitar", "电吉他", 0.5)
CHOIR = ("voice", "Choir", "Choir", "合唱", 0.6)

OUTSIDE = {"code": "outside", "message": "Sounds like electronic music (techno), a genre "
                                         "outside the ten this model knows."}
SPEECH = {"code": "speech_over_music", "message": "Someone talks over the music."}
NOT_MUSIC = {"code": "not_music", "message": "This does not sound like music."}


def _record(path: str, heard: list, notes: list, genre: str = "jazz") -> TrackRecord:
    h = [{"kind": k, "label": label, "name_en": en, "name_zh": zh, "score": score}
         for k, label, en, zh, score in heard]
    return TrackRecord(path, 1, 1, path, duration_s=10.0, model="genres", top=[(genre, 0.7)],
                       warnings=notes, heard=h)


@pytest.fixture
def library(tmp_path):
    db = tmp_path / "lib.db"
    with LibraryWriter(db) as w:
        w.put(_record("/m/strings.ogg", [VIOLIN, CELLO], [OUTSIDE], "classical"))
        w.put(_record("/m/fiddle.ogg", [VIOLIN], [SPEECH]))
        w.put(_record("/m/band.ogg", [ELECTRIC], [OUTSIDE]))
        w.put(_record("/m/folk.ogg", [GUITAR, CHOIR], []))
        w.put(_record("/m/talk.ogg", [], [NOT_MUSIC]))
    with Library(db) as lib:
        yield lib


def test_heard_and_note_choices_count_what_the_filter_finds_in_both_languages(library):
    _, heard, notes = _choices(library, "en")
    assert heard[0] == ("any instrument or voice", "")
    assert heard[1:] == [("Guitar (2)", "Guitar"), ("Violin, fiddle (2)", "Violin_fiddle"),
                         ("Cello (1)", "Cello"), ("Choir (1)", "Choir"),
                         ("Electric guitar (1)", "Electric_guitar")]
    for _, label in heard[1:]:             # each count is what choosing it lists
        n = int(dict((v, k) for k, v in heard)[label].rsplit("(", 1)[1].rstrip(")"))
        assert len(library.tracks(heard=label)) == n, label
    assert notes == [("any note (or none)", ""), ("outside the ten genres (2)", "outside"),
                     ("not music (1)", "not_music"), ("speech over music (1)",
                                                      "speech_over_music")]
    _, heard_zh, notes_zh = _choices(library, "zh")
    assert [v for _, v in heard_zh] == [v for _, v in heard]
    assert heard_zh[2] == ("小提琴 (2)", "Violin_fiddle") and heard_zh[0][0] == "任意乐器或人声"
    assert notes_zh[1:] == [("十种流派之外 (2)", "outside"), ("不是音乐 (1)", "not_music"),
                            ("音乐上有人说话 (1)", "speech_over_music")]


def test_search_combines_name_genre_heard_and_note(library):
    def titles(*args):
        return [label.split(" — ")[0] for label, _ in
                find_tracks(library, *args, "en")["choices"]]

    assert titles("", "", "Violin_fiddle", "") == ["fiddle", "strings"]
    assert titles("", "", "Violin_fiddle", "outside") == ["strings"]
    assert titles("", "jazz", "Violin_fiddle", "") == ["fiddle"]
    assert titles("str", "", "Violin_fiddle", "speech_over_music") == []
    assert titles("", "", "", "outside") == ["band", "strings"]
    assert titles("", "", "Guitar", "") == ["band", "folk"]     # "Electric guitar" too
    assert find_tracks(library, "", "", "Cello", "not_music", "zh")["label"] == "没有匹配的曲目。"


def test_a_track_shows_what_was_heard_and_its_notes_in_both_languages(library):
    strings = library.tracks("strings")[0]
    en = _hearing(strings, "en")
    assert en.startswith("Heard: Violin, fiddle 80%, Cello 40%  \n")
    assert "AudioSet" in en and "- ⚠️ Sounds like electronic music \\(techno\\)" in en
    zh = _hearing(strings, "zh")
    assert zh.startswith("听到：小提琴 80%、大提琴 40%") and "声音名称：AudioSet" in zh
    assert "- ⚠️ 十种流派之外" in zh             # the stored note has no details to fill in
    assert "有人在音乐上说话" in _hearing(library.tracks("fiddle")[0], "zh")
    talk = _hearing(library.tracks("talk")[0], "en")
    assert "Heard" not in talk and talk == "- ⚠️ This does not sound like music."


def test_the_indexer_keeps_a_notes_details_so_the_page_tells_it_in_chinese():
    import numpy as np

    from genrescope.audio import AudioWarning
    from genrescope.library.analyse import note_dict
    from genrescope.library.results import Track
    from genrescope.track import ambiguous_note

    outside = AudioWarning("outside", "Sounds like electronic music (techno), ...",
                           {"family_zh": "电子音乐", "genre_zh": "科技舞曲",
                            "score": np.float32(0.4)})
    notes = [note_dict(outside), note_dict(ambiguous_note(np.float32(0.41), 0.6))]
    assert notes[0]["details"]["score"] == pytest.approx(0.4)
    assert type(notes[0]["details"]["score"]) is float                 # plain JSON
    track = Track(1, "/m/a.ogg", 1, 10.0, "genres", None, [("jazz", 0.41)], notes, None)
    zh = _hearing(track, "zh")
    assert "- ⚠️ 听起来像电子音乐（科技舞曲），不在本模型认识的十种流派之内" in zh
    assert "最可能的流派只有 41%" in zh
