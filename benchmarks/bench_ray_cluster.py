"""The index driver's own cost per track on a multi-node Ray cluster made on this machine.

    PYTHONPATH=. .venv/bin/python benchmarks/bench_ray_cluster.py [--nodes 3] [--n 24]

``ray.cluster_utils.Cluster`` with ``--nodes`` one-CPU nodes (a head and
``nodes - 1`` workers: separate raylets, as separate machines would have),
one actor per node; ``genrescope.library.index`` with ``--backend ray`` over
the first ``--n`` clips of ../shared/data/gtzan-mini (or generated 15 s clips).
Reported: the driver process's CPU seconds per track over the whole run (scan
and hashing, submitting, waiting, receiving, writing each record in its own
transaction; the actors' work is in other processes), the wall time, and the
load average. On one 2-core VM the nodes share two cores, so the wall time says
nothing about a real cluster; the driver's CPU per track is what bounds how
many workers one driver can feed (docs/scale-out.md).
"""

from __future__ import annotations

import argparse
import os
import sys
import tempfile
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--nodes", type=int, default=3)
    ap.add_argument("--n", type=int, default=24)
    args = ap.parse_args()
    import ray
    from bench_ray import make_inputs
    from ray.cluster_utils import Cluster

    from genrescope.library import index

    with tempfile.TemporaryDirectory() as tmp:
        tmp = Path(tmp)
        paths, origin = make_inputs(tmp / "music", args.n, None)
        folder = tmp / "linked"
        folder.mkdir()
        for p in paths:
            (folder / p.name).symlink_to(p)
        cluster = Cluster(initialize_head=True, head_node_args={"num_cpus": 1})
        for _ in range(args.nodes - 1):
            cluster.add_node(num_cpus=1)
        cluster.wait_for_nodes()
        ray.init(address=cluster.address, include_dashboard=False, log_to_driver=False)
        try:
            load0 = os.getloadavg()
            c0, t0 = time.process_time(), time.perf_counter()
            s = index([str(folder)], str(tmp / "lib.db"), backend="ray", workers=args.nodes,
                      progress=False)
            cpu, wall = time.process_time() - c0, time.perf_counter() - t0
        finally:
            ray.shutdown()
            cluster.shutdown()
    n = s.indexed + len(s.failed)
    print(f"{args.nodes} nodes x 1 CPU, {n} tracks ({origin}): wall {wall:.1f} s "
          f"(analysis {s.analyse_s:.1f} s), driver CPU {cpu:.2f} s = "
          f"{1000 * cpu / n:.1f} ms/track (model load in the driver included: "
          f"{s.elapsed_s - s.analyse_s:.1f} s before the analysis); load "
          f"{' '.join(f'{x:.1f}' for x in load0)} -> "
          f"{' '.join(f'{x:.1f}' for x in os.getloadavg())}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
