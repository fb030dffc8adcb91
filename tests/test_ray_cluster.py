"""Indexing on a multi-node Ray cluster made on this machine (ray.cluster_utils.Cluster):
three nodes of one CPU each (three raylets), one actor per node, a node removed
mid-run; every track is indexed exactly once, the rows are the local backend's and
the database is intact.

Separate from tests/test_ray.py: a process joins one Ray at a time, and that
module keeps its own local Ray for its tests.
"""

from __future__ import annotations

import sqlite3
import threading
import time

import pytest
from library_util import music_folder
from test_ray import assert_same_rows, rows

from genrescope.library import index

N_TRACKS = 12


@pytest.fixture(scope="module")
def cluster():
    ray = pytest.importorskip("ray", reason="the ray extra is not installed "
                              "(pip install -e '.[ray]')")
    from ray.cluster_utils import Cluster

    if ray.is_initialized():
        ray.shutdown()
    made = Cluster(initialize_head=True, head_node_args={"num_cpus": 1})
    workers = [made.add_node(num_cpus=1) for _ in range(2)]
    made.wait_for_nodes()
    ray.init(address=made.address, include_dashboard=False, log_to_driver=False)
    yield made, workers
    ray.shutdown()
    made.shutdown()


@pytest.mark.slow
def test_index_over_three_nodes_survives_losing_one(cluster, tmp_path):
    import ray

    made, workers = cluster
    assert len([n for n in ray.nodes() if n["Alive"]]) == 3
    folder = tmp_path / "music"
    music_folder(folder, N_TRACKS, duration_s=3.0)
    (folder / "broken.mp3").write_bytes(b"this is not audio" * 10)
    local_db = tmp_path / "local.db"
    index([str(folder)], str(local_db), precision="fp32", progress=False)

    db = tmp_path / "ray.db"
    removed = {}

    def remove_a_node_mid_run():
        deadline = time.monotonic() + 600
        while time.monotonic() < deadline:
            try:
                con = sqlite3.connect(db)
                n = con.execute("SELECT count(*) FROM tracks").fetchone()[0]
                con.close()
            except sqlite3.Error:
                n = 0
            if n >= 2:
                removed["rows_before"] = n
                made.remove_node(workers[0])            # its raylet and actor die
                removed["alive_after"] = len([x for x in ray.nodes() if x["Alive"]])
                return
            time.sleep(0.05)

    watcher = threading.Thread(target=remove_a_node_mid_run, daemon=True)
    watcher.start()
    t0 = time.perf_counter()
    summary = index([str(folder)], str(db), precision="fp32", progress=False,
                    backend="ray", workers=3)
    watcher.join(60)
    assert removed and removed["rows_before"] < N_TRACKS + 1, removed    # mid-run
    assert removed["alive_after"] == 2
    assert (summary.indexed, len(summary.failed)) == (N_TRACKS, 1)
    con = sqlite3.connect(db)
    assert con.execute("PRAGMA integrity_check").fetchone()[0] == "ok"
    n_rows, n_paths = con.execute("SELECT count(*), count(DISTINCT path) FROM tracks").fetchone()
    con.close()
    assert n_rows == n_paths == N_TRACKS + 1                # every file exactly once
    assert_same_rows(rows(local_db), rows(db))
    assert time.perf_counter() - t0 < 600
