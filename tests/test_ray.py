"""Indexing on Ray (issue 13): the same rows as the local backend, a killed worker
costs a retry and not the run, Ray is never imported on start-up, and without the
extra ``--backend ray`` says how to install it.

The Ray tests share one local Ray (2 CPUs) per module and skip only when the
``ray`` extra is not installed.
"""

from __future__ import annotations

import json
import os
import signal
import sqlite3
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest
from library_util import music_folder

from genrescope import GenrescopeError
from genrescope.cli import main
from genrescope.library import FileJob, WindowPlan, index
from genrescope.library.backends.local import ModelSpec
from genrescope.library.index import make_backend
from genrescope.library.record import file_job

FLOAT_ATOL = 1e-5          # torch on 1 thread (actors) against the driver's threads


def rows(db: Path) -> dict[str, dict]:
    con = sqlite3.connect(db)
    con.row_factory = sqlite3.Row
    try:
        return {r["path"]: dict(r) for r in con.execute("SELECT * FROM tracks")}
    finally:
        con.close()


def assert_same_rows(local: dict, other: dict) -> None:
    """Every column equal; floats from the network within FLOAT_ATOL."""
    assert set(local) == set(other)
    for path, a in local.items():
        b = other[path]
        for key in ("size", "mtime_ns", "content_hash", "duration_s", "model", "model_version",
                    "windows", "top_label", "warnings_json", "error", "thumbnail_jpeg"):
            assert a[key] == b[key], (path, key)
        if a["error"] is not None:
            continue
        assert b["top_probability"] == pytest.approx(a["top_probability"], abs=FLOAT_ATOL)
        ta, tb = json.loads(a["top_json"]), json.loads(b["top_json"])
        assert [t[0] for t in ta] == [t[0] for t in tb], path
        np.testing.assert_allclose([t[1] for t in tb], [t[1] for t in ta], atol=FLOAT_ATOL)
        for key in ("probabilities", "embedding"):
            np.testing.assert_allclose(np.frombuffer(b[key], "<f4"),
                                       np.frombuffer(a[key], "<f4"), atol=FLOAT_ATOL)
        la, lb = json.loads(a["timeline_json"]), json.loads(b["timeline_json"])
        assert [(c["start_s"], c["end_s"]) for c in la] == [(c["start_s"], c["end_s"])
                                                            for c in lb]
        np.testing.assert_allclose([c["p"] for c in lb], [c["p"] for c in la],
                                   atol=2 * FLOAT_ATOL)


# -- without Ray ----------------------------------------------------------------------
def test_start_up_never_imports_ray():
    code = ("import sys\n"
            "import genrescope.cli, genrescope.server.app, genrescope.server.page, genrescope.library\n"
            "from genrescope.cli import main\n"
            "for argv in (['classify', '--help'], ['index', '--help']):\n"
            "    try:\n        main(argv)\n    except SystemExit:\n        pass\n"
            "print('RAY_LOADED' if 'ray' in sys.modules else 'NO_RAY')\n")
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True,
                         timeout=300)
    assert out.returncode == 0, out.stderr
    assert out.stdout.strip().endswith("NO_RAY")
    assert "--ship-bytes" in out.stdout and "--address" in out.stdout


def test_backend_ray_without_the_extra_says_how_to_install(tmp_path, monkeypatch, capsys):
    monkeypatch.setitem(sys.modules, "ray", None)           # as if not installed
    monkeypatch.delitem(sys.modules, "genrescope.library.backends.ray", raising=False)
    assert main(["index", str(tmp_path), "--db", str(tmp_path / "lib.db"),
                 "--backend", "ray"]) == 2
    err = capsys.readouterr().err
    assert "pip install 'genrescope[ray]'" in err and "Traceback" not in err
    assert not (tmp_path / "lib.db").exists()               # refused before any work
    with pytest.raises(GenrescopeError, match=r"genrescope\[ray\]"):
        make_backend("ray", ModelSpec(), WindowPlan(), workers=1, classifier=None)


def test_ray_options_need_the_ray_backend(tmp_path, capsys):
    assert main(["index", str(tmp_path), "--db", str(tmp_path / "lib.db"),
                 "--ship-bytes"]) == 2
    assert "--backend ray" in capsys.readouterr().err
    with pytest.raises(GenrescopeError, match="only with --backend ray"):
        make_backend("local", ModelSpec(), WindowPlan(), workers=1, classifier=None,
                     options={"gpus": 1.0})


# -- on a local Ray ---------------------------------------------------------------------
@pytest.fixture(scope="module")
def ray_local():
    ray = pytest.importorskip("ray", reason="the ray extra is not installed "
                              "(pip install -e '.[ray]')")
    ray.init(num_cpus=2, include_dashboard=False, log_to_driver=False)
    yield ray
    ray.shutdown()


@pytest.fixture(scope="module")
def music(tmp_path_factory):
    """Five short generated tracks and a file that is not audio, indexed locally once."""
    root = tmp_path_factory.mktemp("ray_music")
    folder = root / "music"
    music_folder(folder, 5, duration_s=3.0)
    (folder / "broken.mp3").write_bytes(b"this is not audio" * 10)
    db = root / "local.db"
    summary = index([str(folder)], str(db), precision="fp32", progress=False)
    assert (summary.indexed, len(summary.failed)) == (5, 1)
    return folder, rows(db)


@pytest.mark.slow
@pytest.mark.parametrize("ship", [False, True], ids=["shared-path", "ship-bytes"])
def test_index_on_ray_gives_the_local_rows(ray_local, music, tmp_path, ship):
    folder, local_rows = music
    db = tmp_path / "ray.db"
    argv = ["index", str(folder), "--db", str(db), "--backend", "ray", "--workers", "2",
            "--precision", "fp32"] + (["--ship-bytes"] if ship else [])
    assert main(argv) == 2                     # 2: the broken file failed (and is recorded)
    assert_same_rows(local_rows, rows(db))
    assert main(argv) == 0                     # incremental as on the local backend
    assert ray_local.is_initialized()          # the test's Ray is left to the test


@pytest.mark.slow
def test_killed_worker_costs_a_retry_not_the_run(ray_local, music, tmp_path):
    from genrescope.library.backends.ray import RayBackend

    folder, local_rows = music
    jobs: list[FileJob] = [file_job(p) for p in sorted(local_rows)]
    backend = RayBackend(ModelSpec(precision="fp32"), WindowPlan(), workers=2)
    records, killed = [], None
    try:
        for rec in backend.run(jobs):
            records.append(rec)
            if killed is None:             # mid-run: kill the busiest actor's process
                killed, n_busy = max(backend.workers_in_flight(), key=lambda w: w[1])
                assert n_busy > 0
                os.kill(killed, signal.SIGKILL)
        pids_after = backend.worker_pids()
    finally:
        backend.close()
    assert sorted(r.path for r in records) == sorted(local_rows)   # each track exactly once
    assert backend.retries >= 1
    assert killed not in pids_after and len(pids_after) == 2       # Ray restarted it
    by_path = {r.path: r for r in records}
    for path, row in local_rows.items():
        assert (by_path[path].error is None) == (row["error"] is None), path
        if row["error"] is None:
            assert by_path[path].top[0][0] == row["top_label"]
            np.testing.assert_allclose(by_path[path].embedding,
                                       np.frombuffer(row["embedding"], "<f4"), atol=FLOAT_ATOL)
