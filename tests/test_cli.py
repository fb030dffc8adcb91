import csv
import io
import json
import subprocess
import sys

import numpy as np
import pytest
from conftest import tone, write_audio
from PIL import Image

from genrescope.cli import main
from genrescope.synth import chord, groove


@pytest.fixture(scope="module")
def music_folder(tmp_path_factory):
    root = tmp_path_factory.mktemp("music")
    (root / "sub").mkdir()
    write_audio(root / "strings.flac", chord(8.0, 22050), 22050)
    write_audio(root / "sub" / "groove.mp3", groove(8.0, 44100), 44100)
    write_audio(root / "sub" / "beep.m4a", tone(440, 4.0, 44100), 44100)
    (root / "notes.txt").write_text("not audio")                   # not picked up
    (root / "broken.wav").write_bytes(b"RIFF....WAVEfmt garbage")   # picked up, fails
    return root


def run(capsys, *argv):
    code = main(list(argv))
    out, err = capsys.readouterr()
    return code, out, err


def test_classify_json_for_a_folder_reports_failures_and_goes_on(capsys, music_folder):
    code, out, err = run(capsys, "classify", str(music_folder), "--format", "json", "--top", "3")
    results = json.loads(out)
    names = sorted(r["file"].rsplit("/", 1)[-1] for r in results)
    assert names == ["beep.m4a", "broken.wav", "groove.mp3", "strings.flac"]
    good = [r for r in results if "top" in r]
    bad = [r for r in results if "error" in r]
    assert len(good) == 3 and len(bad) == 1 and "top" not in bad[0]
    assert "broken.wav" in bad[0]["file"]
    for r in good:
        assert r["model"] == "genres"                     # the default model
        assert len(r["top"]) == 3
        assert {"label", "name", "probability"} <= set(r["top"][0])
        probs = [g["probability"] for g in r["top"]]
        assert probs == sorted(probs, reverse=True)
        assert isinstance(r["warnings"], list)
    assert code == 2 and "1 of 4 files could not be classified" in err


def test_classify_table_in_chinese_and_csv(capsys, music_folder):
    code, out, _ = run(capsys, "classify", str(music_folder / "strings.flac"), "--lang", "zh")
    assert code == 0
    assert "1." in out and "%" in out
    assert any("\u4e00" <= ch <= "\u9fff" for ch in out)            # Chinese genre names
    code, out, _ = run(capsys, "classify", str(music_folder / "strings.flac"), "--format", "csv")
    rows = list(csv.DictReader(io.StringIO(out)))
    assert code == 0 and [r["rank"] for r in rows] == ["1", "2", "3", "4", "5"]
    assert abs(sum(float(r["probability"]) for r in rows) - 1) < 0.5
    _, out, _ = run(capsys, "classify", str(music_folder / "strings.flac"), "--format", "json")
    styles = "; ".join(f"{g['name']} {g['probability']:.6f}" for g in json.loads(out)[0]["styles"])
    assert all(r["styles"] == styles for r in rows)                  # the styles column
    heard = "; ".join(f"{h['name']} {h['score']:.2f}" for h in json.loads(out)[0]["heard"])
    assert all(r["heard"] == heard for r in rows)                    # the heard column
    assert list(rows[0])[6:9] == ["styles", "heard", "warnings"]


def test_csv_heard_column_names_and_scores_what_was_heard():
    from genrescope.cli import write_csv

    top = [{"label": "classical", "name": "Classical", "probability": 0.9},
           {"label": "jazz", "name": "Jazz", "probability": 0.1}]
    results = [
        {"file": "a.ogg", "model": "genres", "top": top, "styles": [],
         "heard": [{"kind": "instrument", "label": "Violin_fiddle", "name": "Violin, fiddle",
                    "score": 0.8012}, {"kind": "instrument", "label": "Cello",
                                       "name": "Cello", "score": 0.4}],
         "warnings": [{"code": "outside", "message": "..."}]},
        {"file": "b.ogg", "model": "genres", "top": top[:1], "heard": [], "warnings": []},
        {"file": "c.wav", "model": "genres", "error": "unreadable"}]
    out = io.StringIO()
    write_csv(results, out)
    rows = list(csv.DictReader(io.StringIO(out.getvalue())))
    assert [r["heard"] for r in rows] == ["Violin, fiddle 0.80; Cello 0.40"] * 2 + ["", ""]
    assert [r["warnings"] for r in rows] == ["outside", "outside", "", ""]
    assert rows[-1]["error"] == "unreadable" and rows[-1]["rank"] == ""


def test_window_options(capsys, tmp_path):
    path = write_audio(tmp_path / "long.wav", chord(40.0, 22050), 22050)
    _, out, _ = run(capsys, "classify", str(path), "--format", "json", "--offset", "5",
                    "--duration", "10")
    audio = json.loads(out)[0]["audio"]
    assert audio["offset_s"] == 5 and abs(audio["duration_s"] - 10) < 0.01
    _, out, _ = run(capsys, "classify", str(path), "--format", "json", "--duration", "0")
    assert abs(json.loads(out)[0]["audio"]["duration_s"] - 40) < 0.01


def test_user_errors_exit_2_with_one_line_and_no_traceback(tmp_path):
    for argv in (["classify", str(tmp_path / "missing.wav")],
                 ["classify", str(tmp_path), "--model", "vgg19_bn_cqt", "--models-dir",
                  str(tmp_path)],
                 ["classify", str(tmp_path), "--model", "no_such_model"]):
        proc = subprocess.run([sys.executable, "-m", "genrescope.cli", *argv],
                              capture_output=True, text=True, timeout=120)
        assert proc.returncode == 2, proc.stderr
        assert proc.stderr.startswith("genrescope: error: ")
        assert "Traceback" not in proc.stderr and proc.stderr.count("\n") == 1


def test_a_text_file_named_mp3_is_one_clear_line_without_decoder_noise(tmp_path):
    """libsndfile's MPEG probe printed libmpg123's "Illegal Audio-MPEG-Header"
    notes on stderr (and in the server's log) for a file that is not audio."""
    fake = tmp_path / "song.mp3"
    fake.write_text("this is not music\n" * 200)
    proc = subprocess.run([sys.executable, "-m", "genrescope.cli", "classify", str(fake)],
                          capture_output=True, text=True, timeout=300)
    assert proc.returncode == 2
    assert "MPEG" not in proc.stderr and "resync" not in proc.stderr, proc.stderr
    assert "could not be read" in proc.stdout.lower() or "could not read" in proc.stdout.lower()


def test_spectrogram_figure_and_raw_images(capsys, tmp_path, official_models_dir):
    path = write_audio(tmp_path / "clip.wav", 0.5 * chord(25.0) + 0.5 * groove(25.0), 22050)
    code, out, _ = run(capsys, "spectrogram", str(path), "-o", str(tmp_path / "fig.png"),
                       "--model", "vgg19_bn_cqt", "--models-dir", str(official_models_dir),
                       "--precision", "fp32")
    assert code == 0 and out.strip() == str(tmp_path / "fig.png")
    figure = Image.open(tmp_path / "fig.png")
    assert figure.width >= 800 and figure.height >= 400
    code, out, _ = run(capsys, "spectrogram", str(path), "-o", str(tmp_path / "raw.png"), "--raw",
                       "--model", "vgg19_bn_cqt", "--models-dir", str(official_models_dir),
                       "--precision", "fp32")
    written = out.split()
    assert written == [str(tmp_path / "raw_1.png"), str(tmp_path / "raw_2.png")]
    raw = np.asarray(Image.open(written[0]))
    assert raw.shape == (369, 496, 3)


def test_models_lists_availability(capsys, official_models_dir):
    code, out, _ = run(capsys, "models", "--models-dir", str(official_models_dir),
                       "--format", "json")
    entries = {e["name"]: e for e in json.loads(out)}
    assert code == 0
    assert entries["genres"]["available"] and entries["musicnn_genres"]["available"]
    assert entries["vgg19_bn_cqt"]["available"]
    assert not entries["vgg16_bn_cqt"]["available"]
    assert "ccmusic-database" in entries["vgg16_bn_cqt"]["reason"]
    code, out, _ = run(capsys, "models", "--models-dir", str(official_models_dir))
    assert "vgg19_bn_cqt" in out and "missing" in out and "available" in out


def test_default_model_puts_strings_near_classical(capsys, tmp_path):
    path = write_audio(tmp_path / "strings.wav", chord(12.0, 22050, root_hz=196.0), 22050)
    _, out, _ = run(capsys, "classify", str(path), "--format", "json", "--top", "10")
    ranks = [g["label"] for g in json.loads(out)[0]["top"]]
    # synthetic strings are not music a human would classify, but classical
    # should rank above the loud guitar genres (default model: genres)
    assert ranks.index("classical") < min(ranks.index(g) for g in ("metal", "rock"))


def test_table_names_the_precision_that_ran(capsys, tmp_path, official_models_dir):
    path = write_audio(tmp_path / "clip.wav", 0.5 * chord(12.0) + 0.5 * groove(12.0), 22050)
    heads = {}
    for precision in ("fp32", "int8"):
        code, out, _ = run(capsys, "classify", str(path), "--model", "vgg19_bn_cqt",
                           "--models-dir", str(official_models_dir), "--precision", precision)
        assert code == 0
        heads[precision] = out.splitlines()[0]
    assert "(vgg19_bn_cqt, 0-12.0 s" in heads["fp32"]
    assert "(vgg19_bn_cqt int8, 0-12.0 s" in heads["int8"]
