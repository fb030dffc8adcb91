"""The default hears: ``heard``, the sound notes (AudioSet-decided
``not_music``, ``speech_over_music``, ``outside``) through the one Classifier,
with a stand-in companion that returns chosen AudioSet probabilities; the CLI
line, the page line and both languages; the library's filters."""

from __future__ import annotations

import json
import sqlite3

import numpy as np
import pytest
import torch

from genrescope import Classifier
from genrescope.cli import _table
from genrescope.hearing import Heard, INSTRUMENTAL
from genrescope.labels import Genre
from genrescope.library import Library
from genrescope.library.db import SCHEMA_VERSION, LibraryWriter
from genrescope.library.record import TrackRecord
from genrescope.models.config import BundleConfig
from genrescope.models.efficientat import EfficientATModel
from genrescope.models.registry import load_model, resolve
from genrescope.server.page.render import render, summary
from genrescope.synth import chord
from genrescope.track import combine_windows, outside_genre

SR = 16000


class ChosenHearing(EfficientATModel):
    """The ``audioset`` model's labels and front end, with scores chosen by the test."""

    chosen: dict = {}

    def scores(self, inputs: torch.Tensor) -> torch.Tensor:
        row = torch.zeros(len(self.labels))
        for label, p in self.chosen.items():
            row[self.labels.index(label)] = p
        return row.expand(len(inputs), -1).clone()

    def scores_and_embed(self, inputs: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
        """The chosen scores and the network's embedding (the default's genre
        head reads its block: the Classifier asks for both in one call)."""
        return self.scores(inputs), self.embed(inputs)


@pytest.fixture(scope="module")
def default():
    return Classifier.load("genres", device="cpu")


@pytest.fixture(scope="module")
def stand_in():
    return ChosenHearing(load_model(resolve("audioset")).config)


def classify(clf, stand_in, chosen: dict, y=None):
    stand_in.chosen = chosen
    clf.model.hearing = stand_in
    return clf.classify(chord(6.0, SR, root_hz=220, seed=1) if y is None else y, sr=SR)


def codes(pred) -> list[str]:
    return [w.code for w in pred.warnings]


def test_the_default_names_its_companion_and_runs_it_on_the_same_window():
    default = Classifier.load("genres", device="cpu")
    assert default.model.config.hearing.model == "audioset"
    assert isinstance(default.model.hearing, EfficientATModel) and default.decode_sr == 32000
    pred = default.classify(chord(12.0, SR, root_hz=262, seed=3), sr=SR)
    assert pred.sound is not None and "hearing" in pred.timings
    assert "audioset:Music" in pred.side_scores and "not_music" in pred.side_scores
    assert pred.to_dict()["sound"]["kind"] == pred.sound.id


def test_heard_in_prediction_json_cli_and_page_in_both_languages(default, stand_in):
    pred = classify(default, stand_in, {"Music": 0.9, "Violin_fiddle": 0.6, "Cello": 0.4})
    assert [h.name.id for h in pred.heard] == ["instrumental", "Violin_fiddle", "Cello"]
    assert pred.heard[1].score == pytest.approx(0.6)
    en, zh = pred.to_dict("en"), pred.to_dict("zh")
    assert [h["name"] for h in en["heard"]] == ["Instrumental", "Violin, fiddle", "Cello"]
    assert zh["heard"][1]["name"] == "小提琴" and zh["heard"][1]["score"] == pytest.approx(0.6)
    assert "  heard: Instrumental 100 %, Violin, fiddle 60 %, Cello 40 %" in _table(en)
    state = summary(pred)
    assert "Heard: Instrumental, Violin, fiddle, Cello" in render(state, "en")[0]
    assert "AudioSet (Gemmeke et al. 2017, CC BY 4.0)" in render(state, "en")[0]
    assert "听到：纯音乐（无人声）、小提琴、大提琴" in render(state, "zh")[0]
    assert not {"not_music", "outside", "speech_over_music"} & set(codes(pred))


def test_speech_decided_by_audioset_is_not_music_in_both_languages(default, stand_in):
    pred = classify(default, stand_in, {"Speech": 0.9, "Music": 0.05})
    assert codes(pred).count("not_music") == 1 and "ambiguous" not in codes(pred)
    note = next(w for w in pred.warnings if w.code == "not_music")
    assert note.details["sound"] == "speech" and "sounds like speech" in note.message
    assert "听起来像语音" in note.text("zh")
    assert pred.heard == [] and pred.styles == []
    top_line, bars, *_ = render(summary(pred), "en")
    assert bars is None and "does not sound like music" in top_line


@pytest.mark.parametrize("chosen, kind", [({"Dog": 0.7, "Animal": 0.8}, "animal"),
                                          ({"Vehicle": 0.6}, "noise"),
                                          ({"Bird": 0.5, "Wind": 0.3}, "animal"),
                                          ({"Rain": 0.6, "Water": 0.5}, "nature")])
def test_animals_nature_and_noise_are_not_music(default, stand_in, chosen, kind):
    note = [w for w in classify(default, stand_in, chosen).warnings if w.code == "not_music"]
    assert note and note[0].details["sound"] == kind


def test_the_rule_head_ignores_the_companions_kind(default, stand_in):
    original = default.model.config
    config = original.raw | {"name": "head_only"}
    config["hearing"] = config["hearing"] | {"not_music": "head"}
    default.model.config = BundleConfig.parse(config)
    try:
        assert "not_music" not in codes(classify(default, stand_in, {"Speech": 0.9}))
    finally:
        default.model.config = original


def test_music_under_speech_gets_its_own_note_not_not_music(default, stand_in):
    pred = classify(default, stand_in, {"Speech": 0.8, "Music": 0.6, "Piano": 0.3})
    assert "speech_over_music" in codes(pred) and "not_music" not in codes(pred)
    assert pred.sound.id == "music_under_speech"
    note = next(w for w in pred.warnings if w.code == "speech_over_music")
    assert "电台" in note.text("zh")
    assert render(summary(pred), "en")[0].startswith("**Not sure.**")


def test_outside_the_ten_names_the_genre_and_takes_the_big_headline_away(default, stand_in):
    pred = classify(default, stand_in, {"Music": 0.9, "Drum_and_bass": 0.5,
                                        "Electronic_music": 0.4, "Reggae": 0.1})
    note = next(w for w in pred.warnings if w.code == "outside")
    assert note.message.startswith("Sounds like electronic music (drum and bass), a genre "
                                   "outside the ten")
    assert "电子音乐" in note.text("zh") and "鼓打贝斯" in note.text("zh")
    assert render(summary(pred), "en")[0].startswith("**Not sure.**")
    assert render(summary(pred), "zh")[0].startswith("**不确定。**")
    inside = classify(default, stand_in, {"Music": 0.9, "Reggae": 0.6, "Drum_and_bass": 0.3})
    assert "outside" not in codes(inside)


def test_a_weak_outside_class_needs_the_taggers_own_tag_to_confirm_it(default):
    spec = default.model.config.hearing
    names = lambda k: Genre(k, k, k)                                   # noqa: E731
    scores = {"Music": 0.9, "Folk_music": 0.3, "Country": 0.05}
    assert spec.outside_confirmed_from <= 0.3 < spec.outside_from
    assert outside_genre(spec, scores, names, {"style:folk": 0.0}) == (None, None)
    found, tag = outside_genre(spec, scores, names, {"style:folk": spec.tag_from})
    assert found.family.id == "folk" and tag == "folk"


def test_windows_of_a_track_combine_heard_and_notes(default, stand_in):
    a = classify(default, stand_in, {"Music": 0.9, "Piano": 0.5})
    b = classify(default, stand_in, {"Music": 0.9, "Female_singing": 0.4, "Violin_fiddle": 0.3})
    track = combine_windows([a, b], default.model.config)
    assert [h.name.id for h in track.heard] == ["Female_singing", "Piano", "Violin_fiddle"]
    c = classify(default, stand_in, {"Speech": 0.9})
    assert combine_windows([a, c], default.model.config).heard == []


def _record(path: str, heard: list, notes: list) -> TrackRecord:
    h = [{"kind": k, "label": label, "name_en": en, "name_zh": zh, "score": 0.5}
         for k, label, en, zh in heard]
    return TrackRecord(path, 1, 1, path, duration_s=10.0, model="genres", top=[("jazz", 0.7)],
                       warnings=[{"code": c, "message": c} for c in notes], heard=h)


def test_the_library_filters_by_instrument_and_by_note(tmp_path, capsys):
    db = tmp_path / "lib.db"
    with LibraryWriter(db) as w:
        w.put(_record("/m/a.ogg", [("instrumental", "instrumental", "Instrumental", "纯音乐"),
                                   ("instrument", "Violin_fiddle", "Violin, fiddle", "小提琴")],
                      ["outside"]))
        w.put(_record("/m/b.ogg", [("voice", "Choir", "Choir", "合唱"),
                                   ("instrument", "Piano", "Piano", "钢琴")], []))
        w.put(_record("/m/c.ogg", [], ["not_music"]))
    with Library(db) as lib:
        path = lambda ts: [t.path for t in ts]                           # noqa: E731
        assert path(lib.tracks(heard="violin")) == ["/m/a.ogg"]
        assert path(lib.tracks(heard="小提琴")) == ["/m/a.ogg"]
        assert path(lib.tracks(heard="Piano")) == ["/m/b.ogg"]
        assert path(lib.tracks(note="outside")) == ["/m/a.ogg"]
        assert path(lib.tracks(note="not_music")) == ["/m/c.ogg"]
        assert path(lib.tracks(heard="piano", note="outside")) == []
        assert lib.tracks(heard="choir")[0].to_dict("zh")["heard"][0]["name"] == "合唱"
    from genrescope.cli import main

    assert main(["library", "--db", str(db), "--heard", "violin"]) == 0
    out = capsys.readouterr().out
    assert "/m/a.ogg" in out and "heard: Instrumental, Violin, fiddle" in out
    assert "notes: outside" in out and "/m/b.ogg" not in out


def test_an_old_library_opens_and_gains_the_heard_column(tmp_path):
    db = tmp_path / "old.db"
    with LibraryWriter(db) as w:
        w.put(_record("/m/a.ogg", [], ["ambiguous"]))
    con = sqlite3.connect(db)                       # make it a schema-2 database again
    con.execute("ALTER TABLE tracks DROP COLUMN heard_json")
    con.execute("UPDATE meta SET value='2' WHERE key='schema_version'")
    con.commit()
    con.close()
    with Library(db) as lib:
        (t,) = lib.tracks()
        assert t.heard == [] and lib.tracks(heard="piano") == []
        assert [x.path for x in lib.tracks(note="ambiguous")] == ["/m/a.ogg"]
    version = sqlite3.connect(db).execute(
        "SELECT value FROM meta WHERE key='schema_version'").fetchone()[0]
    assert int(version) == SCHEMA_VERSION == 3


def test_library_api_filters_by_heard_and_note(tmp_path):
    import os

    os.environ.setdefault("GRADIO_ANALYTICS_ENABLED", "False")
    from fastapi.testclient import TestClient

    from genrescope.server.app import create_app

    db = tmp_path / "lib.db"
    with LibraryWriter(db) as w:
        w.put(_record("/m/a.ogg", [("instrument", "Piano", "Piano", "钢琴")], ["outside"]))
        w.put(_record("/m/b.ogg", [], ["not_music"]))
    app = create_app(device="cpu", db=str(db), tmp_dir=tmp_path, max_upload_mb=1)
    with TestClient(app, base_url="http://127.0.0.1") as c:
        get = lambda **p: [t["path"] for t in c.get("/api/v1/library/tracks",   # noqa: E731
                                                    params=p).json()["tracks"]]
        assert get(heard="piano") == ["/m/a.ogg"] and get(note="not_music") == ["/m/b.ogg"]
        assert get(note="outside", heard="钢琴") == ["/m/a.ogg"]
        r = c.get("/api/v1/library/tracks", params={"heard": "piano", "lang": "zh"}).json()
        assert r["tracks"][0]["heard"][0]["name"] == "钢琴"
        assert c.get("/api/v1/library/tracks", params={"note": "x;drop"}).status_code == 422


def test_heard_json_of_a_track_record():
    h = Heard("instrumental", INSTRUMENTAL, 0.97)
    from genrescope.prediction import heard_dict

    assert heard_dict(h, "zh") == {"kind": "instrumental", "label": "instrumental",
                                   "name": INSTRUMENTAL.zh, "name_en": "Instrumental",
                                   "name_zh": INSTRUMENTAL.zh, "score": 0.97}
    assert json.dumps(heard_dict(h))
    assert np.isfinite(h.score)


def test_the_hearing_config_is_typed_and_checked():
    from pathlib import Path

    from genrescope.errors import GenrescopeError

    raw = json.loads((Path(__file__).resolve().parents[1] / "genrescope" / "assets" / "genres"
                      / "config.json").read_text(encoding="utf-8"))
    spec = BundleConfig.parse(raw).hearing
    assert spec.model == "audioset" and spec.not_music == "hearing" and spec.max_seconds == 10
    assert set(spec.tag_families) <= set(raw["styles"]["names"])
    assert BundleConfig.parse(raw | {"hearing": {"model": "x"}}).hearing.outside_from == 0.5
    for bad in ({"model": "audioset", "not_music": "sometimes"},
                {"model": "audioset", "loudness": 3}, {"model": "audioset", "max_seconds": 0}):
        with pytest.raises(GenrescopeError, match="hearing"):
            BundleConfig.parse(raw | {"hearing": bad})
