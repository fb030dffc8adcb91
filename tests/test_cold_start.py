"""What a new process pays before its first answer: no heavy import a command
does not need, colour tables kept across processes, a warm-up for servers.
(Times are figures for benchmarks/bench_cold_start.py, never asserted here.)"""

from __future__ import annotations

import json
import subprocess
import sys

import numpy as np
import pytest
from conftest import write_audio

from genrescope.synth import chord, groove

#: Modules that cost a second or more to import and that classifying a file
#: with the default model does not need.
HEAVY = ("librosa.core", "librosa.feature", "scipy.signal", "numba", "matplotlib", "gradio",
         "fastapi", "sklearn", "pandas")

PROBE = """
import json, sys
from genrescope.cli import main
code = main(["classify", sys.argv[1], "--format", "json"])
heavy = sorted({m for m in sys.modules for h in json.loads(sys.argv[2])
                if m == h or m.startswith(h + ".")})
print(json.dumps({"code": code, "heavy": heavy}), file=sys.stderr)
"""


def test_cli_classify_imports_nothing_heavy_it_does_not_need(tmp_path):
    from genrescope.features import _colormap

    _colormap.__wrapped__("magma")        # the colour table in this run's cache, as after a first run
    clip = write_audio(tmp_path / "clip.mp3", 0.6 * chord(4.0, 22050) + 0.4 * groove(4.0, 22050),
                       22050)
    done = subprocess.run([sys.executable, "-c", PROBE, str(clip), json.dumps(HEAVY)],
                          capture_output=True, text=True, cwd=tmp_path, timeout=600)
    report = json.loads(done.stderr.strip().splitlines()[-1])
    assert report["code"] == 0
    assert json.loads(done.stdout)[0]["top"]                  # it did answer
    assert report["heavy"] == []


def test_colour_table_is_kept_and_reused(tmp_path, monkeypatch):
    from matplotlib import colormaps

    from genrescope.features import _colormap

    monkeypatch.setenv("GENRESCOPE_CACHE", str(tmp_path))
    cmap = colormaps["magma"]
    expected = (cmap(np.arange(cmap.N))[:, :3] * 255).round().astype(np.uint8)
    np.testing.assert_array_equal(_colormap.__wrapped__("magma"), expected)
    [kept] = (tmp_path / "colormaps").glob("magma-*.npy")
    np.testing.assert_array_equal(np.load(kept), expected)
    # read back from the file, not computed again
    np.save(kept, expected[::-1].copy())
    np.testing.assert_array_equal(_colormap.__wrapped__("magma"), expected[::-1])
    # a damaged file is computed again and replaced
    kept.write_bytes(b"not an array")
    np.testing.assert_array_equal(_colormap.__wrapped__("magma"), expected)
    np.testing.assert_array_equal(np.load(kept), expected)
    # names that are not plain identifiers are never turned into paths
    with pytest.raises(KeyError):
        _colormap.__wrapped__("../magma")
    assert sorted(p.name for p in tmp_path.rglob("*")) == ["colormaps", kept.name]


def test_warm_up_runs_the_whole_analysis_once(monkeypatch):
    from genrescope import Classifier

    clf = Classifier.load(precision="fp32")
    calls = []
    real = clf.model.features
    monkeypatch.setattr(clf.model, "features", lambda y: calls.append(len(y)) or real(y))
    clf.warm_up()
    assert calls == [clf.model.sr]                   # one second at the model's rate


def test_importing_the_package_does_not_import_torch():
    code = ("import sys\n"
            "import genrescope, genrescope.errors, genrescope.labels\n"
            "print('torch' in sys.modules, genrescope.__version__)\n"
            "from genrescope import Classifier, GenrescopeError, load_audio\n"
            "print('torch' in sys.modules, Classifier.__name__, sorted(genrescope.__all__) == "
            "sorted(set(dir(genrescope)) & set(genrescope.__all__)))\n")
    done = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True,
                          timeout=600)
    assert done.returncode == 0, done.stderr[-2000:]
    lines = done.stdout.strip().splitlines()[-2:]
    assert lines[0].startswith("False ")                # the package and its version: no torch
    assert lines[1] == "True Classifier True"            # the public names still import
