"""Labelled datasets, splits, evaluation metrics, label maps, reports and the
``evaluate`` command. Audio is synthesised here; the metric cases are worked
out by hand."""

from __future__ import annotations

import json
from pathlib import Path
from types import SimpleNamespace

import numpy as np
import pytest
from conftest import write_audio
from PIL import Image

from genrescope import GenrescopeError
from genrescope.cli import main
from genrescope.dataset import (LabelledFile, grouped_folds, grouped_split, label_counts,
                                list_labelled, song_key, stratified_folds, stratified_split)
from genrescope.evaluate import OTHER, evaluate, load_label_map, metrics
from genrescope.labels import Genre
from genrescope.predict import GenreScore
from genrescope.synth import chord, groove

SR = 16000


def _clip(path: Path, kind: str = "chord", seed: int = 0) -> Path:
    path.parent.mkdir(parents=True, exist_ok=True)
    y = chord(3.0, SR, seed=seed) if kind == "chord" else groove(3.0, SR, seed=seed)
    return write_audio(path, y, SR)


# -- datasets ---------------------------------------------------------------

def test_folder_per_genre(tmp_path):
    _clip(tmp_path / "jazz" / "a.wav")
    _clip(tmp_path / "jazz" / "live" / "b.flac")
    _clip(tmp_path / "rock" / "c.ogg", "groove")
    (tmp_path / "rock" / "notes.txt").write_text("not audio")
    (tmp_path / "empty").mkdir()
    items = list_labelled(tmp_path)
    assert [(i.label, i.path.name) for i in items] == [
        ("jazz", "a.wav"), ("jazz", "b.flac"), ("rock", "c.ogg")]


def test_gtzan_named_files(tmp_path):
    for name in ("hiphop.00001.wav", "blues.00000.wav", "blues.00001.mp3"):
        _clip(tmp_path / name)
    items = list_labelled(str(tmp_path))
    assert [(i.label, i.path.name) for i in items] == [
        ("blues", "blues.00000.wav"), ("blues", "blues.00001.mp3"),
        ("hiphop", "hiphop.00001.wav")]


def test_csv_paths_are_relative_to_the_csv(tmp_path):
    _clip(tmp_path / "audio" / "x.wav")
    absolute = _clip(tmp_path / "elsewhere" / "y.wav")
    csv_file = tmp_path / "lists" / "labels.csv"
    csv_file.parent.mkdir()
    csv_file.write_text(f"path,label\n../audio/x.wav,jazz\n{absolute},classical\n")
    items = list_labelled(csv_file)
    assert items == [LabelledFile("classical", absolute),
                     LabelledFile("jazz", csv_file.parent / "../audio/x.wav")]
    assert all(i.path.is_file() for i in items)


@pytest.mark.parametrize("setup, message", [
    (lambda d: None, "No audio files"),
    (lambda d: [_clip(d / "jazz.1.wav"), _clip(d / "rock" / "a.wav")], "mixes audio files"),
    (lambda d: [_clip(d / "jazz.1.wav"), _clip(d / "song.wav")], "not named <genre>.<id>"),
    (lambda d: (d / "l.csv").write_text("file,genre\na.wav,jazz\n"), "header"),
    (lambda d: (d / "l.csv").write_text("path,label\nmissing.wav,jazz\n"), "do not exist"),
    (lambda d: (d / "l.csv").write_text("path,label\nx.wav,\n"), "line 2"),
])
def test_dataset_errors_say_what_is_wrong(tmp_path, setup, message):
    setup(tmp_path)
    target = tmp_path / "l.csv" if (tmp_path / "l.csv").exists() else tmp_path
    with pytest.raises(GenrescopeError, match=message):
        list_labelled(target)


def _items(counts: dict[str, int]) -> list[LabelledFile]:
    return [LabelledFile(label, Path(f"{label}/{i:03d}.wav"))
            for label, n in counts.items() for i in range(n)]


def test_split_is_stratified_by_file_and_reproducible():
    items = _items({"a": 10, "b": 5, "c": 2, "d": 1})
    train, val = stratified_split(items, 0.2, seed=3)
    assert label_counts(val) == {"a": 2, "b": 1, "c": 1}
    assert label_counts(train) == {"a": 8, "b": 4, "c": 1, "d": 1}
    assert not set(train) & set(val) and set(train) | set(val) == set(items)
    assert stratified_split(items[::-1], 0.2, seed=3) == (train, val)   # order-free
    assert stratified_split(items, 0.2, seed=4)[1] != val                 # seed matters
    # one genre's split does not move when another genre is added
    _, val_more = stratified_split(items + _items({"e": 7}), 0.2, seed=3)
    assert [i for i in val_more if i.label == "a"] == [i for i in val if i.label == "a"]
    with pytest.raises(GenrescopeError):
        stratified_split(items, 1.0)


def test_folds_cover_every_file_once():
    items = _items({"a": 9, "b": 6, "c": 3})
    folds = stratified_folds(items, k=3, seed=0)
    vals = [val for _, val in folds]
    assert sorted(f for val in vals for f in val) == sorted(items)
    for train, val in folds:
        assert label_counts(val) == {"a": 3, "b": 2, "c": 1}
        assert set(train) == set(items) - set(val)
    assert stratified_folds(items[::-1], k=3, seed=0) == folds
    assert stratified_folds(items, k=3, seed=1) != folds
    with pytest.raises(GenrescopeError):
        stratified_folds(items, k=1)


# -- metrics ----------------------------------------------------------------

def test_metrics_on_a_hand_made_case():
    m = metrics(["a", "a", "b", "b", "c"], ["a", "b", "b", "x", "c"], ["a", "b", "c"])
    # a: P 1/1 R 1/2 F1 2/3; b: P 1/2 R 1/2 F1 1/2; c: P 1 R 1 F1 1
    assert m["accuracy"] == pytest.approx(3 / 5)
    assert m["macro_f1"] == pytest.approx((2 / 3 + 1 / 2 + 1) / 3)
    assert [(r["precision"], r["recall"], r["support"]) for r in m["per_class"]] == [
        (1.0, 0.5, 2), (0.5, 0.5, 2), (1.0, 1.0, 1)]
    assert m["columns"] == ["a", "b", "c", OTHER]
    assert m["confusion"].tolist() == [[1, 1, 0, 0], [0, 1, 0, 1], [0, 0, 1, 0]]
    assert metrics(["a"], ["a"], ["a"])["columns"] == ["a"]   # no empty (other) column


class FakeClassifier:
    """Fixed rankings per file name, real GenreScore objects."""

    name = "fake"
    model = SimpleNamespace(config=SimpleNamespace(training=None))   # records no training files

    def __init__(self, rankings: dict[str, list[str]], precision: str = "fp32"):
        self.rankings = rankings
        self.precision = precision
        self.genres = [Genre(x, x, x) for x in ("hip_hop", "funk", "dance", "rock", "soul")]

    def classify(self, path, *, duration_s=None, top_k=5):
        ranking = self.rankings[Path(path).name]
        if ranking is None:
            raise GenrescopeError(f"Could not decode {path}")
        top = [GenreScore(Genre(x, x, x), 0.5 / (i + 1)) for i, x in enumerate(ranking[:top_k])]
        return SimpleNamespace(top=top, precision=self.precision)


LABEL_MAP = {"hiphop": ["hip_hop"], "disco": ["dance", "funk"], "reggae": []}


def test_label_map_counts_mapped_labels_and_maps_predictions_back():
    rankings = {"h1.wav": ["hip_hop", "rock"], "h2.wav": ["funk", "hip_hop"],
                "d1.wav": ["funk", "dance"], "d2.wav": ["soul", "rock", "dance"],
                "r1.wav": ["soul", "funk"], "bad.wav": None}
    items = [LabelledFile(label, Path(name)) for label, name in [
        ("hiphop", "h1.wav"), ("hiphop", "h2.wav"), ("disco", "d1.wav"), ("disco", "d2.wav"),
        ("reggae", "r1.wav"), ("reggae", "bad.wav")]]
    report = evaluate(FakeClassifier(rankings), items, LABEL_MAP, top_k=3, progress=False)
    got = {Path(r.file).name: (r.predicted, r.correct, r.top_k_correct) for r in report.files}
    assert got == {"h1.wav": ("hiphop", True, True), "h2.wav": ("disco", False, True),
                   "d1.wav": ("disco", True, True), "d2.wav": (OTHER, False, True),
                   "r1.wav": (OTHER, False, False)}
    assert report.accuracy == pytest.approx(2 / 5)
    assert report.top_k_accuracy == pytest.approx(4 / 5)
    assert report.labels == ["disco", "hiphop", "reggae"]
    assert report.columns == ["disco", "hiphop", "reggae", OTHER]
    assert report.confusion.tolist() == [[1, 0, 0, 1], [1, 1, 0, 0], [0, 0, 0, 1]]
    assert [f["file"] for f in report.failed] == ["bad.wav"]
    assert "1 failed" in report.table() and "top-3 accuracy   80.0%" in report.table()
    assert report.model == "fake"
    # a report says when the network did not run in float32
    int8 = evaluate(FakeClassifier(rankings, "int8"), items, LABEL_MAP, progress=False)
    assert int8.model == "fake (int8)" and int8.table().startswith("model fake (int8)")


def test_grouped_folds_keep_a_song_on_one_side():
    """A GTZAN clip and an excerpt of it (same <genre>.<id>, two folders) are
    one song: every fold holds both out together, or neither."""
    items = [LabelledFile(g, Path(folder) / f"{g}.{i:05d}.wav")
             for g in ("jazz", "rock") for i in range(6) for folder in ("mini", "snippets")]
    items += [LabelledFile("jazz", Path("snippets/jazz.00050.wav"))]
    assert song_key(items[0]) == song_key(items[1]) == "jazz.00000"
    assert song_key(LabelledFile("jazz", Path("jazz/take5.mp3"))) == "jazz/take5.mp3"
    folds = grouped_folds(items, k=3, seed=0)
    held = [f for _, val in folds for f in val]
    assert sorted(held) == sorted(items)                        # each file held out once
    for train, val in folds:
        assert not {song_key(i) for i in train} & {song_key(i) for i in val}
        assert {i.label for i in val} == {"jazz", "rock"}
    train, val = grouped_split(items, 0.3, seed=1)
    assert not {song_key(i) for i in train} & {song_key(i) for i in val} and val


def test_report_has_ece_and_writes_a_reliability_diagram(tmp_path):
    """Two files right at 90 %, two at 60 % of which one is right:
    bins |1.0 - 0.9| and |0.5 - 0.6| weigh half each -> ECE 0.1."""
    from genrescope.evaluate import EvaluationReport, FileResult

    files = [FileResult(f"{i}.wav", "a", "a" if ok else "b", "a" if ok else "b", p, [], ok, ok)
             for i, (p, ok) in enumerate([(0.9, True), (0.9, True), (0.6, True), (0.6, False)])]
    m = metrics([f.label for f in files], [f.predicted for f in files], ["a", "b"])
    report = EvaluationReport(model="m", labels=["a", "b"], accuracy=m["accuracy"],
                              macro_f1=m["macro_f1"], top_k_accuracy=1.0, top_k=3,
                              per_class=m["per_class"], confusion=m["confusion"],
                              columns=m["columns"], files=files)
    assert report.ece == pytest.approx(0.1)
    assert "ECE (10 bins)    0.100" in report.table()
    report.save(tmp_path)
    assert json.loads((tmp_path / "report.json").read_text())["ece"] == pytest.approx(0.1)
    with Image.open(tmp_path / "reliability.png") as im:
        assert im.size[0] > 300


def test_label_map_errors(tmp_path):
    clf = FakeClassifier({})
    items = [LabelledFile("hiphop", Path("a.wav")), LabelledFile("jazz", Path("b.wav"))]
    with pytest.raises(GenrescopeError, match="not known to the model: hiphop, jazz"):
        evaluate(clf, items, progress=False)
    with pytest.raises(GenrescopeError, match="no entry for: jazz"):
        evaluate(clf, items, LABEL_MAP, progress=False)
    with pytest.raises(GenrescopeError, match="does not have: bebop"):
        evaluate(clf, items, LABEL_MAP | {"jazz": ["bebop"]}, progress=False)
    (tmp_path / "map.json").write_text('{"hiphop": "hip_hop", "reggae": []}')
    assert load_label_map(tmp_path / "map.json") == {"hiphop": ["hip_hop"], "reggae": []}
    (tmp_path / "bad.json").write_text('["hip_hop"]')
    with pytest.raises(GenrescopeError, match="JSON object"):
        load_label_map(tmp_path / "bad.json")


def test_shipped_gtzan_map_fits_the_default_model():
    from genrescope.models.registry import resolve

    root = Path(__file__).resolve().parents[1]
    label_map = load_label_map(root / "maps" / "gtzan_to_musicnn_genres.json")
    model_labels = set(resolve("musicnn_genres").config.labels)
    assert sorted(label_map) == ["blues", "classical", "country", "disco", "hiphop", "jazz",
                                 "metal", "pop", "reggae", "rock"]
    assert {t for ts in label_map.values() for t in ts} <= model_labels


def test_report_save_writes_json_and_png(tmp_path):
    items = [LabelledFile("hiphop", Path("h1.wav")), LabelledFile("disco", Path("d1.wav"))]
    clf = FakeClassifier({"h1.wav": ["hip_hop"], "d1.wav": ["rock"]})
    report = evaluate(clf, items, LABEL_MAP, progress=False)
    json_path, png_path = report.save(tmp_path / "out")
    data = json.loads(json_path.read_text())
    assert data["accuracy"] == 0.5 and data["n_files"] == 2
    assert data["confusion"] == {"rows": ["disco", "hiphop"], "columns": ["disco", "hiphop",
                                                                           OTHER],
                                 "counts": [[0, 0, 1], [0, 1, 0]]}
    assert [(f["file"], f["top"][0][0]) for f in data["files"]] == [("h1.wav", "hip_hop"),
                                                                  ("d1.wav", "rock")]
    with Image.open(png_path) as image:
        assert image.format == "PNG" and min(image.size) > 200
        assert np.asarray(image.convert("L")).std() > 0


# -- command line -----------------------------------------------------------

@pytest.fixture(scope="module")
def tiny_dataset(tmp_path_factory) -> Path:
    root = tmp_path_factory.mktemp("data")
    for i in range(2):
        _clip(root / "classical" / f"c{i}.wav", "chord", seed=i)
        _clip(root / "disco" / f"t{i}.flac", "groove", seed=i)
    return root


def test_cli_evaluate_default_model(tiny_dataset, tmp_path, capsys):
    code = main(["evaluate", str(tiny_dataset), "--report", str(tmp_path / "r"),
                 "--device", "cpu", "--per-file"])
    out = capsys.readouterr().out
    assert code == 0, out
    assert "model genres: 4 files" in out                  # the default model
    for text in ("accuracy", "macro-F1", "top-3 accuracy", "ECE", "classical", "disco",
                 "c0.wav"):
        assert text in out
    data = json.loads((tmp_path / "r" / "report.json").read_text())
    assert data["model"] == "genres" and data["n_files"] == 4
    assert 0 <= data["ece"] <= 1
    assert (tmp_path / "r" / "confusion.png").stat().st_size > 0
    assert (tmp_path / "r" / "reliability.png").stat().st_size > 0
    assert f"wrote {tmp_path / 'r' / 'reliability.png'}" in out      # says where it is
    assert "CAUTION" not in out and data["training_overlap"]["n_overlap"] == 0


def test_cli_evaluate_user_errors(tiny_dataset, tmp_path, capsys):
    (tmp_path / "map.json").write_text('{"classical": ["classical"]}')
    assert main(["evaluate", str(tiny_dataset), "--map", str(tmp_path / "map.json")]) == 2
    err = capsys.readouterr().err
    assert err.count("\n") == 1 and "no entry for: disco" in err
    assert main(["evaluate", str(tmp_path / "nothing")]) == 2
    assert "No such folder" in capsys.readouterr().err


# -- overlap with the training set (issue 26) --------------------------------

def test_overlap_with_training_files(tmp_path):
    from genrescope.overlap import fingerprints, training_overlap

    trained = [_clip(tmp_path / "train" / "jazz.00000.wav", "chord", seed=1),
               _clip(tmp_path / "train" / "rock.00001.wav", "groove", seed=2)]
    config = fingerprints(trained)
    copy = tmp_path / "eval" / "renamed.wav"
    copy.parent.mkdir()
    copy.write_bytes(trained[0].read_bytes())               # the same bytes, another name
    other_cut = _clip(tmp_path / "eval" / "Rock.00001.flac", "groove", seed=5)  # same name
    new = _clip(tmp_path / "eval" / "new.wav", "chord", seed=9)
    overlap = training_overlap([copy, other_cut, new], config)
    assert overlap.same_bytes == [str(copy)] and overlap.same_name == [str(other_cut)]
    assert overlap.n_overlap == 2 and overlap.n_files == 3
    text = overlap.warning("genres")
    assert text.startswith("CAUTION: 2 of 3 files (67%) overlap") and "never saw" in text
    assert training_overlap([new], config).warning("genres") is None
    assert training_overlap([new], None) is None                    # nothing recorded


def test_evaluate_cautions_when_files_were_training_files(tmp_path):
    from genrescope.overlap import fingerprints

    files = [_clip(tmp_path / "hiphop" / f"h{i}.wav", "groove", seed=i) for i in range(2)]
    clf = FakeClassifier({f.name: ["hip_hop", "funk"] for f in files})
    clf.model = SimpleNamespace(config=SimpleNamespace(
        training={"fingerprints": fingerprints(files[:1])}))
    report = evaluate(clf, [LabelledFile("hiphop", f) for f in files],
                      {"hiphop": ["hip_hop"]}, progress=False)
    table = report.table()
    assert table.startswith("CAUTION: 1 of 2 files (50%)"), table
    assert report.to_dict()["training_overlap"]["same_bytes"] == [str(files[0])]


def test_default_model_records_its_training_files():
    """The shipped bundle lists its training files (names and digests)."""
    config = json.loads((Path(__file__).resolve().parents[1] / "genrescope" / "assets"
                         / "genres" / "config.json").read_text(encoding="utf-8"))
    fp = config["training"]["fingerprints"]
    assert len(fp["sha256"]) == config["training"]["files"]
    assert "jazz.00000" in fp["names"] and all(len(d) == 16 for d in fp["sha256"])
