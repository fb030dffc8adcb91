"""Library indexing on the local backend against Ray with 1 and 2 workers, and what
limits Ray on N nodes.

    .venv/bin/python benchmarks/bench_ray.py [--files DIR] [--n 16] [--rounds 2] [--ship-bytes]

Input: the first ``--n`` clips of ../shared/data/gtzan-mini (real music, 8.8-20 s,
so the default plan spread:3x10 analyses each clip whole); without that folder,
generated music of 15 s, and the table says so. A local Ray with 2 CPUs is
started once (``ray.init`` timed apart); then, in ``--rounds`` alternating
rounds (the load of a shared machine drifts), every set-up indexes the same
files: the local backend with 1 worker (in this process, as ``--workers 1``,
torch's default threads; model load timed apart), the same on one torch
thread (as every pool process and Ray actor runs), 2 workers (a process pool:
its start-up is inside its analysis time, shown as nan), Ray with 1 and 2
workers (actors loading the model: start-up, apart) and, with
``--ship-bytes``, 2 workers receiving the bytes from the driver. Figures are
medians over the rounds.

Then the driver's own costs per track: writing the record (``LibraryWriter.put``,
one transaction each, median of 500 puts of the run's real records), its CPU
time while Ray ran (submit, wait, receive), and hashing the files (the scan).
The scaling estimate for N nodes of C cores: workers deliver N*C*per-worker
throughput until the driver's capacity (1 / its per-track cost) is reached.

Figures on a shared machine move with its load: the load average is printed
before and after. Requires the ray extra (pip install -e '.[ray]').
"""

from __future__ import annotations

import argparse
import os
import statistics
import sys
import tempfile
import time
from dataclasses import replace
from pathlib import Path

import numpy as np
import soundfile as sf
import torch

ROOT = Path(__file__).resolve().parent.parent
SHARED = ROOT.parent / "shared" / "data" / "gtzan-mini"


def make_inputs(folder: Path, n: int, files: str | None) -> tuple[list[Path], str]:
    source = Path(files) if files else SHARED
    clips = sorted(p for p in source.rglob("*") if p.suffix.lower() in
                   {".wav", ".mp3", ".flac", ".ogg", ".m4a"}) if source.is_dir() else []
    if clips:
        # every genre in turn, so a small n still mixes genres
        by_genre: dict[str, list[Path]] = {}
        for c in clips:
            by_genre.setdefault(c.name.split(".")[0], []).append(c)
        order = [c for group in zip(*by_genre.values()) for c in group] or clips
        return order[:n], f"real music from {source}"
    from genrescope.synth import chord, groove, sweep

    sr, out = 22050, []
    for i in range(n):
        y = (chord, groove, sweep)[i % 3](15.0, sr)
        out.append(folder / f"gen{i:03d}.wav")
        sf.write(out[-1], y, sr)
    return out, f"GENERATED 15 s clips ({source} not found)"


def consume(backend, jobs) -> tuple[list, float, float]:
    """Records, wall seconds, driver CPU seconds of one run."""
    t0, c0 = time.perf_counter(), time.process_time()
    records = list(backend.run(jobs))
    return records, time.perf_counter() - t0, time.process_time() - c0


def write_rate(records: list, folder: Path, clf, n_puts: int = 500) -> tuple[float, float]:
    """Median and p95 seconds of one LibraryWriter.put of a real record."""
    from genrescope.library.analyse import model_version
    from genrescope.library.db import LibraryWriter

    good = [r for r in records if r.error is None]
    times = []
    with LibraryWriter(folder / "writes.db") as writer:
        writer.register_model(clf.name, model_version(clf), [g.id for g in clf.genres],
                              {g.id: [g.en, g.zh] for g in clf.genres},
                              int(good[0].embedding.shape[0]))
        for i in range(n_puts):
            rec = replace(good[i % len(good)], path=f"/music/{i:06d}.mp3")
            t = time.perf_counter()
            writer.put(rec)
            times.append(time.perf_counter() - t)
    return statistics.median(times), float(np.percentile(times, 95))


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--files", help="a folder of music (default ../shared/data/gtzan-mini)")
    ap.add_argument("--n", type=int, default=16, help="tracks (default 16)")
    ap.add_argument("--rounds", type=int, default=2, help="rounds over all set-ups (medians)")
    ap.add_argument("--ship-bytes", action="store_true", help="also Ray 2 workers, bytes shipped")
    args = ap.parse_args()
    try:
        import ray
    except ImportError:
        print("bench_ray: needs the ray extra: .venv/bin/pip install -e '.[ray]'", file=sys.stderr)
        return 2
    from genrescope.library.analyse import DEFAULT_WINDOWS, model_version, set_threads
    from genrescope.library.backends.local import LocalBackend, ModelSpec
    from genrescope.library.backends.ray import RayBackend
    from genrescope.library.record import file_job

    load_before = os.getloadavg()
    with tempfile.TemporaryDirectory() as tmp:
        tmp = Path(tmp)
        paths, origin = make_inputs(tmp, args.n, args.files)
        t = time.perf_counter()
        jobs = [file_job(p) for p in paths]
        hash_s = time.perf_counter() - t
        mb = sum(j.size for j in jobs) / 1e6
        spec = ModelSpec(precision="auto")
        t = time.perf_counter()
        clf = spec.load()
        version = model_version(clf)
        load_s = time.perf_counter() - t

        t = time.perf_counter()
        ray.init(num_cpus=2, include_dashboard=False, log_to_driver=False)
        init_s = time.perf_counter() - t
        configs = [("local, 1 worker", "local", 1, False), ("local, 1 worker, 1 thread",
                                                            "local1t", 1, False),
                   ("local, 2 workers (pool)", "local", 2, False),
                   ("ray, 1 worker", "ray", 1, False), ("ray, 2 workers", "ray", 2, False)]
        if args.ship_bytes:
            configs.append(("ray, 2 workers, ship-bytes", "ray", 2, True))
        runs: dict[str, list] = {name: [] for name, *_ in configs}
        threads = torch.get_num_threads()
        try:
            for _ in range(args.rounds):            # rounds alternate: the load drifts
                for name, kind, workers, ship in configs:
                    set_threads(1 if kind == "local1t" else threads)
                    if kind == "ray":
                        backend = RayBackend(spec, DEFAULT_WINDOWS, workers=workers,
                                             classifier=clf, ship_bytes=ship)
                    else:
                        backend = LocalBackend(spec, DEFAULT_WINDOWS, workers=workers,
                                               classifier=clf)
                    try:
                        if kind == "ray":
                            backend.start()
                        records, wall, cpu = consume(backend, jobs)
                    finally:
                        backend.close()
                    start_s = backend.startup_s if kind == "ray" else \
                        (load_s if workers == 1 else float("nan"))
                    runs[name].append((start_s, wall, records, cpu))
        finally:
            set_threads(threads)
            ray.shutdown()
        rows = [(name, statistics.median(r[0] for r in rs), statistics.median(r[1] for r in rs),
                 rs[-1][2], statistics.median(r[3] for r in rs)) for name, rs in runs.items()]
        put_med, put_p95 = write_rate(rows[0][3], tmp, clf)
    load_after = os.getloadavg()

    n = len(jobs)
    audio_s = sum(r.duration_s or 0 for r in rows[0][3])
    failed = sum(r.error is not None for r in rows[0][3])
    print(f"# bench_ray: {n} tracks, {audio_s:.0f} s of audio ({mb:.1f} MB), {origin}; "
          f"model {version}; plan {DEFAULT_WINDOWS}; {failed} failed")
    print(f"# ray {ray.__version__}; load average before {load_before[0]:.2f} "
          f"{load_before[1]:.2f} {load_before[2]:.2f}, after {load_after[0]:.2f} "
          f"{load_after[1]:.2f} {load_after[2]:.2f} ({os.cpu_count()} CPUs)")
    print(f"# ray.init (local, 2 CPUs): {init_s:.1f} s, once\n")
    base = n / rows[0][2]
    print(f"{'backend':<28} {'start-up s':>10} {'analyse s':>9} {'tracks/h':>9} "
          f"{'audio s/s':>9} {'x local':>7} {'median track s':>14} {'driver CPU ms/track':>19}")
    for name, start_s, wall, records, cpu in rows:
        per = statistics.median(r.analysis_s for r in records)
        print(f"{name:<28} {start_s:>10.1f} {wall:>9.1f} {3600 * n / wall:>9.0f} "
              f"{audio_s / wall:>9.2f} {n / wall / base:>7.2f} {per:>14.2f} "
              f"{1000 * cpu / n:>19.2f}")

    ref = {r.path: r for r in rows[0][3]}
    for name, _, _, records, _ in rows[1:]:
        ok = [r for r in records if r.error is None and ref[r.path].error is None]
        same_top = sum(r.top[0][0] == ref[r.path].top[0][0] for r in ok)
        d_emb = max((float(np.abs(r.embedding - ref[r.path].embedding).max()) for r in ok),
                    default=0.0)
        d_p = max((float(np.abs(r.probabilities - ref[r.path].probabilities).max())
                   for r in ok), default=0.0)
        print(f"# {name} against local 1: {len(records)}/{n} records, same top genre "
              f"{same_top}/{len(ok)}, max |d prob| {d_p:.1e}, max |d embedding| {d_emb:.1e}")

    # -- scaling estimate ---------------------------------------------------------------
    ray1 = rows[3]
    per_worker = n / ray1[2]                           # tracks/s of one Ray worker
    driver_cpu = max(r[4] for r in rows[3:]) / n        # s of driver CPU per track on Ray
    hash_per = hash_s / n
    driver_s = put_med + driver_cpu
    cap = 1.0 / driver_s
    print(f"\ndriver per track: put {1000 * put_med:.2f} ms (p95 {1000 * put_p95:.2f}), Ray "
          f"bookkeeping {1000 * driver_cpu:.2f} ms CPU => {cap:.0f} tracks/s "
          f"({3600 * cap:,.0f} tracks/h) before the driver limits")
    print(f"scan: hashing {mb / hash_s:.0f} MB/s here ({1000 * hash_per:.1f} ms/track of "
          f"{mb / n:.1f} MB); a 4-min MP3 (~5 MB) at 1 Gbit/s (~110 MB/s) from shared "
          f"storage: ~{110 / 5:.0f} tracks/s on a first run")
    print(f"per worker: {per_worker:.3f} tracks/s ({3600 * per_worker:.0f} tracks/h); "
          f"workers until the driver limits: {cap / per_worker:,.0f}")
    print(f"\n{'nodes x cores':<14} {'workers':>7} {'tracks/h (workers)':>18} "
          f"{'limited by':>11} {'100k tracks':>12}")
    for nodes, cores in ((1, 2), (1, 16), (4, 16), (16, 16), (64, 16), (256, 32)):
        w = nodes * cores
        rate = min(w * per_worker, cap)
        who = "workers" if w * per_worker < cap else "driver"
        print(f"{f'{nodes} x {cores}':<14} {w:>7} {3600 * w * per_worker:>18,.0f} {who:>11} "
              f"{100_000 / rate / 3600:>10.1f} h")
    return 0


if __name__ == "__main__":
    sys.exit(main())
