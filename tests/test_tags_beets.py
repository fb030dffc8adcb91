"""The beets plugin with real beets: a temporary library (BEETSDIR in tmp),
synthesised tagged files, import with analysis, `beet genrescope -w`, query."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import pytest
from tags_util import make_tagged

from genrescope.tags.formats import TagFile

pytest.importorskip("beets")
ROOT = Path(__file__).resolve().parents[1]


def _genre_field() -> str:
    from beets.library import Item

    return "genres" if "genres" in Item._fields else "genre"


GENRE_FIELD = _genre_field()


def beet(tmp_path: Path, *args: str) -> str:
    env = dict(os.environ, BEETSDIR=str(tmp_path / "beets"), PYTHONPATH=str(ROOT),
               HOME=str(tmp_path))
    done = subprocess.run([sys.executable, "-m", "beets", *args], env=env, capture_output=True,
                          text=True, timeout=600)
    assert done.returncode == 0, done.stdout + done.stderr
    return done.stdout


@pytest.mark.slow
def test_beets_import_analyse_write_query(tmp_path, official_models_dir):
    music = tmp_path / "incoming"
    music.mkdir()
    files = [make_tagged(music / f"song{i}.{ext}", seed=i)
             for i, ext in enumerate(("mp3", "flac"))]
    (tmp_path / "beets").mkdir()
    (tmp_path / "beets" / "config.yaml").write_text(f"""
directory: {tmp_path / 'music'}
library: {tmp_path / 'beets' / 'library.db'}
plugins: genrescope
import:
  copy: no
  write: yes
  quiet: yes
genrescope:
  auto: yes
  min_confidence: 0
  model: vgg19_bn_cqt
  models_dir: {official_models_dir}
""", encoding="utf-8")
    beet(tmp_path, "import", "-A", "-q", str(music))          # auto: analysed on import
    genre = f"${GENRE_FIELD}"
    listed = beet(tmp_path, "ls", "-f", f"$path|{genre}|$genrescope_genre|$genrescope_confidence"
                  "|$genrescope_heard")
    rows = [line.split("|") for line in listed.splitlines()]
    assert len(rows) == 2 and all(r[2] for r in rows)
    assert all(r[4] == "" for r in rows)          # set, empty: this model hears no instrument
    assert all(r[1] == "Rock" for r in rows)                   # genre untouched so far
    assert all(TagFile(f).genres() == ["Rock"] for f in files)

    beet(tmp_path, "genrescope", "-w")                         # sets genre, writes files
    listed = beet(tmp_path, "ls", "-f", f"$path|{genre}|$genrescope_genre")
    rows = {r[0]: r for r in (line.split("|") for line in listed.splitlines())}
    for f in files:
        path, genre, ours = rows[str(f)]
        assert genre == ours and TagFile(f).genres() == [ours]
    some = rows[str(files[0])][2]
    hits = beet(tmp_path, "ls", "-f", "$path", f"genrescope_genre:{some}").splitlines()
    assert str(files[0]) in hits
    assert set(hits) == {p for p, r in rows.items() if r[2] == some}


def test_plugin_stores_what_was_heard_as_genrescope_heard(tmp_path, monkeypatch):
    """``genrescope_heard``: the voices and instruments heard, English names
    joined by ", " (a name's synonyms dropped so that the commas separate
    names), beside the other fields; empty when nothing was heard; kept when
    the item is not analysed again; queryable like the others."""
    monkeypatch.setenv("BEETSDIR", str(tmp_path / "beets"))
    monkeypatch.setenv("HOME", str(tmp_path))
    from beets.library import Item, Library

    from beetsplug.genrescope import GenrescopePlugin
    from genrescope.tags.answers import Answer

    heard = {"a.mp3": ["Instrumental", "Violin, fiddle", "Cello"], "b.mp3": []}

    class Source:
        def analyse(self, path):
            return Answer("Classical", "classical", 0.8, "genres", "analysis",
                          styles=["baroque"], notes=["outside"],
                          heard=heard[os.path.basename(path)])

    plugin = GenrescopePlugin()
    plugin._answers = Source()
    lib = Library(str(tmp_path / "beets.db"))   # ":memory:" leaves migration backups in the cwd
    items = {}
    for name in heard:
        items[name] = Item(path=str(tmp_path / name).encode(), title=name)
        lib.add(items[name])
        plugin.analyse(items[name], write_genre=False)
    got = {name: lib.get_item(item.id) for name, item in items.items()}
    assert got["a.mp3"]["genrescope_heard"] == "Instrumental, Violin, Cello"
    assert got["a.mp3"]["genrescope_notes"] == "outside"
    assert got["b.mp3"]["genrescope_heard"] == ""
    heard["a.mp3"] = ["Piano"]                   # not analysed again without force
    plugin.analyse(got["a.mp3"], write_genre=False)
    assert lib.get_item(items["a.mp3"].id)["genrescope_heard"] == "Instrumental, Violin, Cello"
    plugin.analyse(got["a.mp3"], write_genre=False, force=True)
    assert lib.get_item(items["a.mp3"].id)["genrescope_heard"] == "Piano"
    assert [i.title for i in lib.items("genrescope_heard:piano")] == ["a.mp3"]
