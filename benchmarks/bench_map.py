"""How long the library map's projection takes per size and method.

The figures behind ``genrescope.library.map``'s limits (t-SNE up to
``TSNE_MAX_TRACKS``, at most ``MAP_MAX_TRACKS`` drawn): for each size, the
projection of real-like unit embeddings (``bench_ann.make_data("real", ...)``,
drawn from the default model's embeddings of the shared clips) with each
method asked for, median of ``--repeats`` runs. UMAP only when ``umap-learn``
is importable (``pip install 'genrescope[map]'``); its first run in a process
includes numba's compile, reported apart.

    python benchmarks/bench_map.py --sizes 1000 5000 20000 --methods tsne pca
    python benchmarks/bench_map.py --sizes 20000 50000 --methods umap
"""

from __future__ import annotations

import argparse
import os
import statistics
import sys
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).parent))

from bench_ann import make_data  # noqa: E402

from genrescope.library.map import _has_umap, project_2d  # noqa: E402


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--sizes", type=int, nargs="+", default=[1000, 5000, 20000])
    parser.add_argument("--methods", nargs="+", default=["tsne", "pca", "umap"],
                        choices=["tsne", "pca", "umap"])
    parser.add_argument("--repeats", type=int, default=1)
    args = parser.parse_args()
    print(f"load average {os.getloadavg()[0]:.2f}; umap-learn "
          f"{'installed' if _has_umap() else 'not installed (umap skipped)'}")
    if "umap" in args.methods and _has_umap():
        x, _ = make_data("real", 200, 256, 0)
        t0 = time.perf_counter()
        project_2d(x, method="umap")
        print(f"umap first call (numba compile), 200 tracks: {time.perf_counter() - t0:.1f} s")
    print(f"{'tracks':>8}  {'method':<6}  {'median s':>9}")
    for n in args.sizes:
        x, _ = make_data("real", n, 256, 0)
        for method in args.methods:
            if method == "umap" and not _has_umap():
                continue
            times = []
            for _ in range(args.repeats):
                t0 = time.perf_counter()
                project_2d(x, method=method)
                times.append(time.perf_counter() - t0)
            print(f"{n:>8}  {method:<6}  {statistics.median(times):>9.1f}", flush=True)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
