"""Approximate nearest neighbours for ``similar``: which library, which settings.

    PYTHONPATH=. .venv/bin/python benchmarks/bench_ann.py [--n 100000 1000000]
        [--libs hnswlib faiss-hnsw faiss-ivf usearch] [--data isotropic clustered]
        [--dim 256] [--queries 200] [--json OUT]

For each library size and data set: synthetic float32 rows of the library's
embedding size (256: the default model's), L2-normalised; the exact top 10 of
``--queries`` held-out queries by brute force; then per candidate library the
index build time (all cores), the resident memory it added, its file size, and,
one query at a time on one thread (as the server answers a request), the median
and p95 latency and recall@10 against the exact top 10, for a few search-effort
settings (``ef`` for graphs, ``nprobe`` for IVF).

Data sets: ``real-like`` (the default) = normal rows with the mean and the
covariance of real default-model embeddings (5 s windows of the clips in
../shared/data, computed once and kept in ``--real-stats``), put through a ReLU
as the model's head is (real embeddings: about half the values are 0, the
first 10 principal axes hold 80 % of the variance, participation ratio 10);
``isotropic`` = independent normal values (no structure at all: every point
almost equally far from every other, what ``bench_library.py --similar``
times exact search on; no approximate index reaches 0.95 recall on it, and
real embeddings look nothing like it).
The machine is shared: the load average is printed with every table.
"""

from __future__ import annotations

import argparse
import gc
import json
import os
import sys
import tempfile
import time
from pathlib import Path

import numpy as np

K = 10


def load_avg() -> str:
    return " ".join(f"{x:.1f}" for x in os.getloadavg())


def rss_mb() -> float:
    for line in Path("/proc/self/status").read_text().splitlines():
        if line.startswith("VmRSS:"):
            return int(line.split()[1]) / 1024
    return float("nan")


REAL_STATS = Path(tempfile.gettempdir()) / "genrescope-real-embeddings.npy"
SHARED = Path(__file__).resolve().parent.parent.parent / "shared" / "data"


def real_embeddings(path: Path = REAL_STATS) -> np.ndarray:
    """Default-model embeddings of 5 s windows of the shared clips (cached in ``path``)."""
    if path.is_file():
        return np.load(path)
    import soundfile as sf

    from genrescope.predict import Classifier

    clf = Classifier.load(None)
    files = sorted((SHARED / "gtzan-mini").glob("*.wav")) + \
        sorted((SHARED / "music-clips").glob("*.ogg"))
    if not files:
        raise SystemExit(f"real-like data needs {SHARED} (or use --data isotropic)")
    rows = []
    for f in files:
        duration_s, offset_s = sf.info(str(f)).duration, 0.0
        while offset_s + 5 <= duration_s:
            rows.append(clf.embed(str(f), offset_s=offset_s, duration_s=5.0))
            offset_s += 2.5 if duration_s < 40 else 6.0
    x = np.stack(rows).astype(np.float32)
    np.save(path, x)
    return x


def make_data(kind: str, n: int, dim: int, n_queries: int, seed: int = 0,
              real_stats: Path = REAL_STATS):
    rng = np.random.default_rng(seed)
    total = n + n_queries
    if kind == "isotropic":
        x = rng.standard_normal((total, dim), dtype=np.float32)
    else:
        real = real_embeddings(real_stats)
        if real.shape[1] != dim:
            raise SystemExit(f"real embeddings have {real.shape[1]} values, not {dim}")
        mean = real.mean(axis=0)
        ev, vec = np.linalg.eigh(np.cov((real - mean).T))
        mix = (vec * np.sqrt(np.clip(ev, 0, None))).T.astype(np.float32)
        x = np.empty((total, dim), np.float32)
        for a in range(0, total, 100_000):
            b = min(total, a + 100_000)
            x[a:b] = np.maximum(rng.standard_normal((b - a, dim), dtype=np.float32) @ mix
                                + mean, 0)
    x /= np.maximum(np.linalg.norm(x, axis=1, keepdims=True), 1e-12)
    return x[:n], x[n:]


def exact_top(data: np.ndarray, queries: np.ndarray, k: int = K) -> np.ndarray:
    sims = queries @ data.T
    top = np.argpartition(-sims, k - 1, axis=1)[:, :k]
    order = np.argsort(-np.take_along_axis(sims, top, 1), axis=1)
    return np.take_along_axis(top, order, 1)


def recall(found: list, truth: np.ndarray) -> float:
    return float(np.mean([len(set(map(int, f)) & set(map(int, t))) / K
                          for f, t in zip(found, truth)]))


def time_queries(search, queries) -> tuple[float, float, list]:
    times, found = [], []
    for q in queries:
        t = time.perf_counter()
        found.append(search(q))
        times.append(time.perf_counter() - t)
    return float(np.median(times)) * 1e3, float(np.percentile(times, 95)) * 1e3, found


# -- candidates: build(data, tmp) -> (object, file bytes); search(obj, q, effort) -> ids ----- #
def _hnswlib(data, tmp: Path, m=16, ef_construction=200):
    import hnswlib

    ix = hnswlib.Index(space="ip", dim=data.shape[1])
    ix.init_index(max_elements=len(data), M=m, ef_construction=ef_construction)
    ix.set_num_threads(os.cpu_count())
    ix.add_items(data, np.arange(len(data)))
    ix.set_num_threads(1)
    ix.save_index(str(tmp / "h.bin"))
    return ix, (tmp / "h.bin").stat().st_size


def _hnswlib_search(ix, q, ef):
    ix.set_ef(max(ef, K))
    return ix.knn_query(q, k=K)[0][0]


def _faiss_hnsw(data, tmp: Path, m=16, ef_construction=200):
    import faiss

    faiss.omp_set_num_threads(os.cpu_count())
    ix = faiss.IndexHNSWFlat(data.shape[1], m, faiss.METRIC_INNER_PRODUCT)
    ix.hnsw.efConstruction = ef_construction
    ix.add(data)
    faiss.omp_set_num_threads(1)
    faiss.write_index(ix, str(tmp / "f.bin"))
    return ix, (tmp / "f.bin").stat().st_size


def _faiss_hnsw_search(ix, q, ef):
    ix.hnsw.efSearch = max(ef, K)
    return ix.search(q[None, :], K)[1][0]


def _faiss_ivf(data, tmp: Path):
    import faiss

    faiss.omp_set_num_threads(os.cpu_count())
    nlist = int(4 * np.sqrt(len(data)))
    quant = faiss.IndexFlatIP(data.shape[1])
    ix = faiss.IndexIVFFlat(quant, data.shape[1], nlist, faiss.METRIC_INNER_PRODUCT)
    train = data[np.random.default_rng(1).choice(len(data), min(len(data), 40 * nlist),
                                                 replace=False)]
    ix.train(train)
    ix.add(data)
    faiss.omp_set_num_threads(1)
    faiss.write_index(ix, str(tmp / "i.bin"))
    return ix, (tmp / "i.bin").stat().st_size


def _faiss_ivf_search(ix, q, nprobe):
    ix.nprobe = nprobe
    return ix.search(q[None, :], K)[1][0]


def _usearch(data, tmp: Path, m=16, ef_construction=200):
    from usearch.index import Index

    ix = Index(ndim=data.shape[1], metric="ip", dtype="f32", connectivity=m,
               expansion_add=ef_construction)
    ix.add(np.arange(len(data)), data, threads=os.cpu_count())
    ix.save(str(tmp / "u.bin"))
    return ix, (tmp / "u.bin").stat().st_size


def _usearch_search(ix, q, ef):
    ix.expansion_search = max(ef, K)
    return ix.search(q, K, threads=1).keys


CANDIDATES = {
    "hnswlib": (_hnswlib, _hnswlib_search, (64, 128, 256, 512)),
    "faiss-hnsw": (_faiss_hnsw, _faiss_hnsw_search, (64, 128, 256, 512)),
    "faiss-ivf": (_faiss_ivf, _faiss_ivf_search, (16, 32, 64, 128, 256)),
    "usearch": (_usearch, _usearch_search, (64, 128, 256, 512)),
}


def run(n: int, kind: str, dim: int, n_queries: int, libs: list[str],
        real_stats: Path = REAL_STATS) -> dict:
    data, queries = make_data(kind, n, dim, n_queries, real_stats=real_stats)
    t = time.perf_counter()
    truth = exact_top(data, queries)
    exact_ms = (time.perf_counter() - t) / n_queries * 1e3
    out = {"n": n, "data": kind, "dim": dim, "exact_ms_per_query_batched": exact_ms, "libs": {}}
    print(f"\n{n:,} x {dim} {kind}; load average {load_avg()}")
    print(f"{'library':<11} {'build s':>8} {'+RSS MB':>8} {'file MB':>8} {'effort':>6} "
          f"{'median ms':>9} {'p95 ms':>7} {'recall@10':>9}")
    for name in libs:
        build, search, efforts = CANDIDATES[name]
        with tempfile.TemporaryDirectory(prefix="ann-") as tmp:
            gc.collect()
            r0, t = rss_mb(), time.perf_counter()
            ix, size = build(data, Path(tmp))
            build_s, added = time.perf_counter() - t, rss_mb() - r0
        row = {"build_s": build_s, "rss_added_mb": added, "file_mb": size / 1e6, "runs": {}}
        for effort in efforts:
            med, p95, found = time_queries(lambda q: search(ix, q, effort), queries)
            rec = recall(found, truth)
            row["runs"][effort] = {"median_ms": med, "p95_ms": p95, "recall_at_10": rec}
            print(f"{name:<11} {build_s:>8.1f} {added:>8.0f} {size / 1e6:>8.0f} {effort:>6} "
                  f"{med:>9.2f} {p95:>7.2f} {rec:>9.3f}", flush=True)
        row["load"] = load_avg()
        out["libs"][name] = row
        del ix
        gc.collect()
    return out


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--n", type=int, nargs="+", default=[100_000])
    ap.add_argument("--libs", nargs="+", choices=sorted(CANDIDATES), default=sorted(CANDIDATES))
    ap.add_argument("--data", nargs="+", choices=("real-like", "isotropic"),
                    default=["real-like"])
    ap.add_argument("--real-stats", type=Path, default=REAL_STATS,
                    help="cache of the real embeddings (made if missing)")
    ap.add_argument("--dim", type=int, default=256)
    ap.add_argument("--queries", type=int, default=200)
    ap.add_argument("--json", metavar="OUT")
    args = ap.parse_args()
    report = [run(n, kind, args.dim, args.queries, args.libs, args.real_stats)
              for n in args.n for kind in args.data]
    if args.json:
        Path(args.json).write_text(json.dumps(report, indent=2))
    return 0


if __name__ == "__main__":
    sys.exit(main())
