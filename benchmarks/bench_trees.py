"""The shipped default of two source trees side by side in one run: each tree
in its own worker process, asked in turn to classify the same file.

    .venv/bin/python benchmarks/bench_trees.py --baseline ../main [--repeats 15] [--file SONG]

For a change that cannot live beside the old code in one process (another
bundle under the same name, another ``Classifier``): this tree (``new``)
against ``--baseline`` (``old``, e.g. the main checkout), each worker
importing genrescope from its own tree with the same Python. Each round
both workers classify the file path (first 30 s, decode included), the
order alternating; a worker reports its wall and process CPU time of the
``classify`` call alone. Medians, min, max and new / old are printed, with
the load average before and after. The clip is ``--file``, else the first
of ``../shared/data/music-clips``.
"""

from __future__ import annotations

import argparse
import json
import os
import statistics
import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
CLIPS = ROOT.parent / "shared" / "data" / "music-clips"

WORKER = """
import json, sys, time
from genrescope import Classifier
clf = Classifier.load(device="cpu")
clf.classify(sys.argv[1], duration_s=30.0)                  # first call: imports, caches
print(json.dumps({"ready": clf.name}), flush=True)
for line in sys.stdin:
    t0, c0 = time.perf_counter(), time.process_time()
    pred = clf.classify(sys.argv[1], duration_s=30.0)
    print(json.dumps({"wall": time.perf_counter() - t0, "cpu": time.process_time() - c0,
                      "top": pred.top[0].label, "timings": pred.timings}), flush=True)
"""


def worker(tree: Path, path: str) -> subprocess.Popen:
    env = dict(os.environ, PYTHONPATH=str(tree), PYTHONDONTWRITEBYTECODE="1")
    proc = subprocess.Popen([sys.executable, "-c", WORKER, path], cwd=tree, env=env,
                            stdin=subprocess.PIPE, stdout=subprocess.PIPE, text=True)
    json.loads(proc.stdout.readline())
    return proc


def ask(proc: subprocess.Popen) -> dict:
    proc.stdin.write("go\n")
    proc.stdin.flush()
    return json.loads(proc.stdout.readline())


def main(argv=None) -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--baseline", required=True, help="the other source tree (old)")
    ap.add_argument("--repeats", type=int, default=15)
    ap.add_argument("--file")
    args = ap.parse_args(argv)
    path = args.file or str(sorted(CLIPS.glob("*.ogg"))[0])
    procs = {"old": worker(Path(args.baseline).resolve(), path), "new": worker(ROOT, path)}
    runs: dict = {k: [] for k in procs}
    load_before = os.getloadavg()
    try:
        for r in range(args.repeats):
            for k in (("old", "new") if r % 2 == 0 else ("new", "old")):
                runs[k].append(ask(procs[k]))
    finally:
        for proc in procs.values():
            proc.stdin.close()
            proc.wait()
    load_after = os.getloadavg()
    print(f"clip: {Path(path).name} (first 30 s); {args.repeats} rounds; load average (1 min) "
          f"{load_before[0]:.2f} before, {load_after[0]:.2f} after")
    print(f"{'tree':<6}{'median s':>10}{'min s':>9}{'max s':>9}{'new/old':>9}"
          f"{'CPU s':>8}{'CPU new/old':>13}  top")
    base = {m: statistics.median(x[m] for x in runs["old"]) for m in ("wall", "cpu")}
    for k, rows in runs.items():
        wall = [x["wall"] for x in rows]
        cpu = statistics.median(x["cpu"] for x in rows)
        print(f"{k:<6}{statistics.median(wall):>10.3f}{min(wall):>9.3f}{max(wall):>9.3f}"
              f"{statistics.median(wall) / base['wall']:>9.2f}{cpu:>8.3f}"
              f"{cpu / base['cpu']:>13.2f}  {rows[-1]['top']}")
    for k, rows in runs.items():
        stages = {s: statistics.median(x["timings"][s] for x in rows) for s in rows[0]["timings"]}
        print(f"{k} stages (median s): " + ", ".join(f"{s} {v:.3f}" for s, v in stages.items()))


if __name__ == "__main__":
    main()
