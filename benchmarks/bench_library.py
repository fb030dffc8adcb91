"""Library figures: index throughput, similar latency, database size, neighbour quality.

    .venv/bin/python benchmarks/bench_library.py [--index] [--similar] [--quality]
        [--n-mp3 8] [--workers 1 2] [--musicnn-tf PYTHON] [--json OUT]

(no part named = all parts)

--index    ``genrescope.library.index`` with the default model and settings
           (spread:3x10) on (a) ../shared/data as it is (gtzan-mini: 50 clips of
           9-20 s, music-clips: 4 recordings of 46-133 s) and (b) ``--n-mp3``
           4-minute MP3s made from the shared music-clips (looped, each with
           another start so every file differs), once per worker count. Reports
           tracks/h and audio s/s (whole-track seconds per wall second) of the
           analysis phase, model start-up apart, and the load average (the
           machine is shared: a busy machine slows everything).
           On the MP3s, side by side in the same run: musicnn's own TensorFlow
           extractor (``--musicnn-tf PYTHON``, an interpreter holding TensorFlow
           and musicnn; default /tmp/tfenv/bin/python if it exists, else that
           row is skipped) run by ``benchmarks/musicnn_tf_extract.py`` on the
           same files, whole file, one process: one ``extractor()`` call per
           file (graph built and checkpoint restored each call, as a musicnn
           user runs it) and with one graph kept; genrescope ``--windows full``
           (whole file, workers 1: the like-for-like comparison) and the
           default spread:3x10 at each worker count (the 3 000 tracks/h goal).
--similar  on synthetic libraries of ``--similar-sizes`` tracks (default 100 000
           and 1 000 000; embeddings of the default model's size, 256,
           ``--similar-data real-like``: see benchmarks/bench_ann.py): exact
           cosine search (:func:`genrescope.library.search.nearest`); the
           approximate index as ``genrescope index`` builds it
           (:func:`genrescope.library.ann.refresh`: time, memory, file size);
           ``Library.similar`` end to end (k = 10, reasons included) with the
           approximate index and with exact search, median and p95 over 50
           queries, first call apart, and the recall@10 of the approximate
           answers against the exact ones; the database size per 1 000 tracks.
--quality  neighbour genre agreement@5 on gtzan-mini indexed with the default
           model: for each clip, the share of its 5 nearest clips (cosine)
           with the same GTZAN genre (chance: 4/49 = 8 %). ``--quality-models
           default musicnn_genres`` compares models; NOTE the default model
           ``genres`` was trained on gtzan-mini and gtzan-snippets, so on
           gtzan-mini its figure is in-sample; ``musicnn_genres`` never saw GTZAN.

Without ../shared/data the index and quality parts say so and are skipped.
"""

from __future__ import annotations

import argparse
import json
import os
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import numpy as np

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT / "benchmarks"))
SHARED = ROOT.parent / "shared" / "data"
EMBED_DIM = 256          # the default model's clip embedding (genres: its head's hidden layer)
TF_PYTHON = Path("/tmp/tfenv/bin/python")   # TensorFlow + musicnn (see tools/convert_musicnn.py)
GOAL_TRACKS_PER_H = 3000


def load_avg() -> str:
    return " ".join(f"{x:.1f}" for x in os.getloadavg())


def make_mp3s(folder: Path, n: int) -> list[Path]:
    """n 4-minute MP3s made from the shared music-clips (looped)."""
    import soundfile as sf

    clips = sorted((SHARED / "music-clips").glob("*.ogg"))
    sr = 44100                                   # the clips' own rate: no resampling
    audio = [sf.read(c, dtype="float32", always_2d=True)[0].T for c in clips]
    out = []
    for i in range(n):
        y = np.concatenate([audio[(i + j) % len(audio)] for j in range(len(audio))] * 2, axis=1)
        start = (i * 7 * sr) % (y.shape[1] - 240 * sr)
        path = folder / f"song{i:02d}.mp3"
        sf.write(path, y[:, start:start + 240 * sr].T, sr, format="MP3")
        out.append(path)
    return out


def bench_index(workers_list: list[int], n_mp3: int, tmp: Path,
                sets_wanted=("shared", "mp3"), tf_python: str | None = None) -> dict:
    results = {}
    if not SHARED.is_dir():
        print(f"index: SKIPPED, {SHARED} is missing")
        return results
    mp3_dir = tmp / "mp3"
    mp3_dir.mkdir()
    mp3s = make_mp3s(mp3_dir, n_mp3)
    mp3_name = f"{n_mp3} x 4-min MP3"
    sets = {}
    if "shared" in sets_wanted:
        sets["shared/data (gtzan-mini + music-clips)"] = [str(SHARED / "gtzan-mini"),
                                                          str(SHARED / "music-clips")]
    if "mp3" in sets_wanted:
        sets[mp3_name] = [str(mp3_dir)]
    print(f"\nindex throughput (default model); load average before: {load_avg()}")
    print(f"{'input':<42} {'windows':<11} {'workers':>7} {'tracks':>6} {'analyse s':>9} "
          f"{'tracks/h':>9} {'audio s/s':>9} {'start-up s':>10} {'db kB/track':>11} "
          f"{'cpu s/track':>11} load")
    for name, roots in sets.items():
        runs = [("spread:3x10", w) for w in workers_list]
        if name == mp3_name:                         # the like-for-like run first
            runs.insert(0, ("full", 1))
        for windows, workers in runs:
            row = _index_run(name, roots, tmp / f"index-{len(results)}.db", windows, workers)
            key = f"{name} / {workers}" if windows == "spread:3x10" else \
                f"{name} / {windows} / {workers}"
            results[key] = row
    print("cpu s/track: CPU seconds of the driver and its workers per track (start-up "
          "included); on a quiet machine, workers x 3600 / it is the tracks/h to expect.")
    if "mp3" in sets_wanted:
        tf = bench_musicnn_tf(tf_python, mp3s)
        if tf:
            results["musicnn_tf"] = tf
        results["side_by_side"] = side_by_side(results, mp3_name, tf, workers_list)
    return results


def _index_run(name: str, roots: list[str], db: Path, windows: str, workers: int) -> dict:
    """One ``index`` run into a new database; prints its line."""
    from genrescope.library import index

    cpu0 = _cpu_s()
    s = index(roots, str(db), workers=workers, windows=windows, progress=False)
    cpu_s = _cpu_s() - cpu0          # this process and its (reaped) workers
    size = db.stat().st_size + sum(p.stat().st_size for p in db.parent.glob(db.name + "-wal"))
    n = max(1, s.indexed + len(s.failed))
    row = {"input": name, "windows": windows, "workers": workers, "tracks": s.indexed,
           "failed": len(s.failed), "analyse_s": s.analyse_s,
           "tracks_per_h": s.tracks_per_h, "audio_s_per_s": s.audio_s / s.analyse_s,
           "s_per_track": s.analyse_s / n, "startup_s": s.elapsed_s - s.analyse_s,
           "db_bytes_per_track": size / n, "cpu_s_per_track": cpu_s / n, "load": load_avg()}
    print(f"{name:<42} {windows:<11} {workers:>7} {s.indexed:>6} {s.analyse_s:>9.1f} "
          f"{row['tracks_per_h']:>9.0f} {row['audio_s_per_s']:>9.1f} "
          f"{row['startup_s']:>10.1f} {row['db_bytes_per_track'] / 1000:>11.1f} "
          f"{row['cpu_s_per_track']:>11.2f} {row['load']}")
    return row


def _index_in(tree: Path, roots: list[str], db: Path, windows: str | None,
              workers: int) -> dict:
    """``index`` run by the code of ``tree`` in a new process (``PYTHONPATH=tree``);
    ``windows`` None: that tree's default plan."""
    cmd = [sys.executable, str(Path(__file__).resolve()), "--index-one", *roots, "--db", str(db),
           "--workers", str(workers)] + (["--windows", windows] if windows else [])
    env = dict(os.environ, PYTHONPATH=str(tree))
    done = subprocess.run(cmd, env=env, capture_output=True, text=True, timeout=7200,
                          cwd=tempfile.gettempdir())
    if done.returncode != 0:
        raise SystemExit(f"index with {tree} failed:\n{done.stderr[-3000:]}")
    return json.loads(done.stdout.strip().splitlines()[-1])


def _index_one(roots: list[str], db: str, windows: str | None, workers: int) -> None:
    """The child of :func:`_index_in`: one run, its figures as JSON on the last line."""
    import genrescope
    from genrescope.library import index

    kwargs = {"windows": windows} if windows else {}
    cpu0 = _cpu_s()
    s = index(roots, db, workers=workers, progress=False, **kwargs)
    cpu_s = _cpu_s() - cpu0
    import sqlite3

    plan = sqlite3.connect(db).execute("SELECT windows FROM tracks LIMIT 1").fetchone()[0]
    print(json.dumps({"tree": str(Path(genrescope.__file__).parent.parent), "windows": plan,
                      "workers": workers, "tracks": s.indexed, "failed": len(s.failed),
                      "analyse_s": s.analyse_s, "tracks_per_h": s.tracks_per_h,
                      "audio_s": s.audio_s, "cpu_s_per_track": cpu_s / max(1, s.indexed),
                      "load": load_avg()}))


def _tops_and_embeddings(db: Path) -> tuple[dict, dict]:
    """Path -> top label, path -> unit embedding, read with sqlite3 alone."""
    import sqlite3

    con = sqlite3.connect(db)
    rows = con.execute("SELECT path, top_label, embedding FROM tracks WHERE error IS NULL")
    tops, embs = {}, {}
    for path, top, emb in rows:
        tops[path] = top
        v = np.frombuffer(emb, dtype="<f4")
        embs[path] = v / max(float(np.linalg.norm(v)), 1e-12)
    con.close()
    return tops, embs


def _agreement_at_5(embs: dict) -> float:
    """Share of each gtzan clip's 5 nearest clips with its genre (file name prefix)."""
    paths = sorted(embs)
    unit = np.stack([embs[p] for p in paths])
    genres = [Path(p).name.split(".")[0] for p in paths]
    sims = unit @ unit.T
    np.fill_diagonal(sims, -np.inf)
    near = np.argsort(-sims, axis=1)[:, :5]
    return float(np.mean([[genres[j] == genres[i] for j in row] for i, row in enumerate(near)]))


def bench_speedup(baseline: Path, tmp: Path, n_mp3: int, workers: int, repeats: int,
                  quality: bool = True) -> dict:
    """This tree's default indexing against ``baseline``'s, side by side on the same
    MP3s (runs alternated), and the quality of both: top-1 agreement with a
    whole-track analysis (``--windows full``) on the MP3s and music-clips, and
    neighbour genre agreement@5 on gtzan-mini."""
    mp3_dir = tmp / "speed-mp3"
    mp3_dir.mkdir()
    make_mp3s(mp3_dir, n_mp3)
    trees = {"baseline": baseline.resolve(), "this tree": ROOT}
    print(f"\nindexing speed, {n_mp3} x 4-min MP3, default model, each tree's default window "
          f"plan, workers {workers}, {repeats} alternated runs; load average {load_avg()}")
    runs = {k: [] for k in trees}
    for r in range(repeats):
        for name, tree in trees.items():
            row = _index_in(tree, [str(mp3_dir)], tmp / f"speed-{name[0]}-{r}.db", None, workers)
            runs[name].append(row)
            print(f"  run {r + 1} {name:<9} {row['windows']:<11} {row['tracks_per_h']:>7.0f} "
                  f"tracks/h  ({row['analyse_s']:.1f} s, {row['cpu_s_per_track']:.1f} CPU s/track "
                  f"incl. start-up, load {row['load']})", flush=True)
    med = {k: float(np.median([r["tracks_per_h"] for r in v])) for k, v in runs.items()}
    cpu = {k: float(np.median([r["cpu_s_per_track"] for r in v])) for k, v in runs.items()}
    ratio = med["this tree"] / med["baseline"]
    print(f"median tracks/h: baseline {med['baseline']:.0f}, this tree {med['this tree']:.0f}: "
          f"x{ratio:.2f} (goal x2.3); median CPU s/track {cpu['baseline']:.2f} -> "
          f"{cpu['this tree']:.2f}: x{cpu['baseline'] / cpu['this tree']:.2f}")
    out = {"runs": runs, "median_tracks_per_h": med, "ratio": ratio,
           "median_cpu_s_per_track": cpu, "load": load_avg()}
    if not quality:
        return out
    quality = {}
    sets = {"mp3": [str(mp3_dir)], "music-clips": [str(SHARED / "music-clips")]}
    full = {k: _tops_and_embeddings(_db_for(tmp, k, "full", ROOT, v, workers))[0]
            for k, v in sets.items()}
    for name, tree in trees.items():
        agree = []
        for k, roots in sets.items():
            tops = _tops_and_embeddings(_db_for(tmp, k, name, tree, roots, workers))[0]
            agree += [tops.get(p) == t for p, t in full[k].items()]
        gtzan = _tops_and_embeddings(_db_for(tmp, "gtzan", name, tree,
                                             [str(SHARED / "gtzan-mini")], workers))[1]
        quality[name] = {"top1_agreement_with_full": float(np.mean(agree)),
                         "n_tracks": len(agree), "gtzan_agreement_at_5": _agreement_at_5(gtzan)}
        print(f"  {name:<9} top-1 agreement with whole-track analysis "
              f"{np.mean(agree):.0%} of {len(agree)} tracks; gtzan-mini neighbour agreement@5 "
              f"{quality[name]['gtzan_agreement_at_5']:.1%}")
    return dict(out, quality=quality)


def _db_for(tmp: Path, what: str, name: str, tree: Path, roots: list[str], workers: int) -> Path:
    db = tmp / f"q-{what}-{name.replace(' ', '_')}.db"
    _index_in(tree, roots, db, "full" if name == "full" else None, workers)
    return db


def bench_musicnn_tf(tf_python: str | None, files: list[Path]) -> dict:
    """musicnn's TensorFlow extractor on ``files`` (benchmarks/musicnn_tf_extract.py,
    run by ``tf_python``): per-call and kept-graph rates, first call apart."""
    if not tf_python or not Path(tf_python).exists():
        print(f"\nmusicnn TF extractor: SKIPPED, no interpreter with TensorFlow + musicnn "
              f"({tf_python or 'none given'}): pass --musicnn-tf PYTHON")
        return {}
    env = dict(os.environ, TF_USE_LEGACY_KERAS="1", TF_CPP_MIN_LOG_LEVEL="3")
    cmd = [tf_python, str(ROOT / "benchmarks" / "musicnn_tf_extract.py"), "--warm-up",
           "--kept-graph", *map(str, files)]
    print(f"\nmusicnn TF extractor ({tf_python}), load average before: {load_avg()}")
    t = time.perf_counter()
    done = subprocess.run(cmd, env=env, capture_output=True, text=True,
                          timeout=600 + 300 * len(files))
    if done.returncode != 0:
        print(f"musicnn TF extractor: FAILED (exit {done.returncode}):\n"
              + "\n".join(done.stderr.splitlines()[-15:]))
        return {}
    out = json.loads(done.stdout.strip().splitlines()[-1])
    out["process_wall_s"], out["load"] = time.perf_counter() - t, load_avg()
    for key, rows in (("per_call", out["per_call"]), ("kept_graph", out["kept_graph"]["files"])):
        wall_s = sum(r["wall_s"] for r in rows)
        out[key + "_rates"] = {"tracks": len(rows), "wall_s": wall_s,
                               "s_per_track": wall_s / len(rows),
                               "tracks_per_h": 3600 * len(rows) / wall_s,
                               "audio_s_per_s": sum(r["duration_s"] or 0 for r in rows) / wall_s,
                               "all_finite": all(r["finite"] for r in rows)}
    print(f"import {out['import_s']:.1f} s, first call (warm-up, not counted) "
          f"{out['warm_up_s']:.1f} s, graph set-up when kept {out['kept_graph']['setup_s']:.1f} s;"
          f" outputs finite: {out['per_call_rates']['all_finite']}; load after {out['load']}")
    return out


def side_by_side(results: dict, mp3_name: str, tf: dict, workers_list: list[int]) -> dict:
    """The comparison table on the same MP3s; returns its rows."""
    rows = {}
    if tf:
        rows["musicnn TF extractor, one call per file"] = dict(tf["per_call_rates"], processes=1)
        rows["musicnn TF extractor, one graph kept"] = dict(tf["kept_graph_rates"], processes=1)
    full = results.get(f"{mp3_name} / full / 1")
    if full:
        rows["genrescope --windows full"] = full
    for w in workers_list:
        if f"{mp3_name} / {w}" in results:
            rows[f"genrescope spread:3x10 (default), workers {w}"] = results[f"{mp3_name} / {w}"]
    base = rows.get("musicnn TF extractor, one call per file")
    print(f"\nside by side on the same {mp3_name}s (whole-file seconds per track, "
          "start-up and first call apart)")
    print(f"{'what':<46} {'procs':>5} {'s/track':>8} {'tracks/h':>9} {'audio s/s':>9} "
          f"{'/ extractor':>11}")
    for what, r in rows.items():
        ratio = f"{r['s_per_track'] / base['s_per_track']:>11.2f}" if base else f"{'-':>11}"
        print(f"{what:<46} {r.get('processes', r.get('workers')):>5} {r['s_per_track']:>8.2f} "
              f"{r['tracks_per_h']:>9.0f} {r['audio_s_per_s']:>9.1f} {ratio}")
    out = {"rows": rows}
    if full and base:
        out["full_over_extractor"] = full["s_per_track"] / base["s_per_track"]
        kept = tf["kept_graph_rates"]["s_per_track"]
        out["full_over_kept_graph"] = full["s_per_track"] / kept
        print(f"genrescope full / extractor per track: {out['full_over_extractor']:.2f} "
              f"(/ kept graph: {out['full_over_kept_graph']:.2f}); under 1 = genrescope faster")
    best = max((r["tracks_per_h"] for k, r in rows.items() if "default" in k), default=None)
    if best is not None:
        out["goal_met"] = best >= GOAL_TRACKS_PER_H
        print(f"goal {GOAL_TRACKS_PER_H} tracks/h with the default settings: best "
              f"{best:.0f} -> {'met' if out['goal_met'] else 'NOT met'} (load {load_avg()})")
    return out


def _cpu_s() -> float:
    import resource

    me = resource.getrusage(resource.RUSAGE_SELF)
    kids = resource.getrusage(resource.RUSAGE_CHILDREN)
    return me.ru_utime + me.ru_stime + kids.ru_utime + kids.ru_stime


def _lat(fn, queries) -> tuple[float, float]:
    times = []
    for q in queries:
        t = time.perf_counter()
        fn(q)
        times.append(time.perf_counter() - t)
    return float(np.median(times)) * 1000, float(np.percentile(times, 95)) * 1000


def bench_similar(tmp: Path, sizes=(100_000, 1_000_000), data: str = "real-like") -> dict:
    """Exact search and ``Library.similar`` (exact and approximate) on synthetic
    libraries of ``sizes`` tracks (embeddings: bench_ann.make_data ``data``)."""
    from bench_ann import make_data

    from genrescope.library import Library, ann, search

    rng = np.random.default_rng(0)
    out = {}
    print(f"\nsimilar: {EMBED_DIM}-d float32 {data} embeddings, 50 queries, k = 10; "
          f"load average: {load_avg()}")
    for n in sizes:
        unit, queries = make_data(data, n, EMBED_DIM, 50)
        med, p95 = _lat(lambda q: search.nearest(unit, q, 10), queries)
        out[f"nearest {n}"] = {"median_ms": med, "p95_ms": p95, "load": load_avg()}
        print(f"{f'search.nearest (exact, numpy), {n:,} tracks':<52} {med:>9.1f} ms median "
              f"{p95:>8.1f} ms p95")
        db = tmp / f"synthetic-{n}.db"
        _synthetic_db(db, unit, rng)
        del unit
        rss0, t = _rss_mb(), time.perf_counter()
        what = ann.refresh(db)                  # what `genrescope index` runs after a run
        build = {"build_s": time.perf_counter() - t, "rss_added_mb": _rss_mb() - rss0,
                 "file_mb": ann.ann_path(db).stat().st_size / 1e6 if
                 ann.ann_path(db).exists() else 0.0, "what": what, "load": load_avg()}
        out[f"ann build {n}"] = build
        print(f"  {what}; read + build {build['build_s']:.1f} s, +{build['rss_added_mb']:.0f} "
              f"MB resident, file {build['file_mb']:.0f} MB")
        ids = rng.integers(1, n + 1, 50)
        rows, found = {}, {}
        for name, min_tracks in (("approximate", ann.ANN_MIN_TRACKS), ("exact", 10 ** 12)):
            with Library(db, ann_min_tracks=min_tracks) as lib:
                t = time.perf_counter()
                lib.similar(1, k=10)
                first = time.perf_counter() - t
                hits = {}
                med, p95 = _lat(lambda i: hits.__setitem__(
                    int(i), [h.track.id for h in lib.similar(int(i), k=10)]), ids)
                rows[name] = {"median_ms": med, "p95_ms": p95, "first_s": first,
                              "method": lib.search_method, "load": load_avg()}
                found[name] = hits
            label = f"Library.similar (reasons), {n:,} tracks, {rows[name]['method']}"
            print(f"{label:<52} {med:>9.1f} ms median {p95:>8.1f} ms p95   (first call "
                  f"{first:.1f} s)")
        recall = float(np.mean([len(set(found["approximate"][i]) & set(found["exact"][i])) / 10
                                for i in found["exact"]]))
        rows["recall_at_10"] = recall
        out[f"Library.similar {n}"] = rows
        size = db.stat().st_size
        out[f"db {n}"] = {"bytes_per_1000": size / n * 1000}
        print(f"  recall@10 of the approximate answers against exact: {recall:.3f}; database "
              f"{size / n * 1000 / 1e6:.2f} MB per 1 000 tracks")
        for f in db.parent.glob(db.name + "*"):
            f.unlink()
    return out


def _rss_mb() -> float:
    for line in Path("/proc/self/status").read_text().splitlines():
        if line.startswith("VmRSS:"):
            return int(line.split()[1]) / 1024
    return float("nan")


def _synthetic_db(path: Path, unit: np.ndarray, rng) -> None:
    """A library of ``len(unit)`` tracks with these embeddings; genre
    probabilities, 9-chunk timelines and a 2 kB thumbnail from a pool of 1 000
    random ones (the rows have the size of real rows)."""
    from genrescope.library.db import LibraryWriter, blob

    labels = [f"g{i}" for i in range(31)]
    pool = []
    for _ in range(1000):
        p = rng.dirichlet(np.ones(31)).astype(np.float32)
        order = np.argsort(-p)[:5]
        timeline = [{"start_s": 3.0 * c, "end_s": 3.0 * c + 3,
                     "p": [round(float(x), 5) for x in rng.dirichlet(np.ones(31))]}
                    for c in range(9)]
        pool.append((labels[order[0]], float(p[order[0]]),
                     json.dumps([[labels[j], float(p[j])] for j in order]), blob(p),
                     json.dumps(timeline)))
    thumb, now = bytes(2000), time.time()
    with LibraryWriter(path) as w:
        w.register_model("synthetic", "synthetic@0", labels,
                         {g: [g, g] for g in labels}, unit.shape[1])
        for a in range(0, len(unit), 50_000):
            rows = [(f"/music/{i:07d}.mp3", 4_000_000, i, f"{i:032x}", 240.0, "synthetic",
                     "synthetic@0", "spread:3x10", *pool[i % 1000][:4], blob(unit[i]),
                     pool[i % 1000][4], thumb, "[]", None, 1.0, now)
                    for i in range(a, min(len(unit), a + 50_000))]
            with w.con:
                w.con.executemany(
                    "INSERT INTO tracks (path, size, mtime_ns, content_hash, duration_s, model, "
                    "model_version, windows, top_label, top_probability, top_json, "
                    "probabilities, embedding, timeline_json, thumbnail_jpeg, warnings_json, "
                    "error, analysis_s, indexed_at) VALUES (?,?,?,?,?,?,?,?,?,?,?,?,?,?,?,?,?,?,?)",
                    rows)


def bench_quality(tmp: Path, model: str | None = None) -> dict:
    from genrescope.library import Library, index, search

    folder = SHARED / "gtzan-mini"
    if not folder.is_dir():
        print(f"\nquality: SKIPPED, {folder} is missing")
        return {}
    db = tmp / f"gtzan-{model or 'default'}.db"
    index([str(folder)], str(db), model=model, progress=False)
    with Library(db) as lib:
        ix = lib._embeddings()
        labels = [Path(lib.track(int(i)).path).name.split(".")[0] for i in ix.ids]
    agree = []
    for row, label in enumerate(labels):
        hits = search.nearest(ix.unit, ix.unit[row], 5, exclude=[row])
        agree.append(np.mean([labels[i] == label for i, _ in hits]))
    per_genre = {g: float(np.mean([a for a, lb in zip(agree, labels) if lb == g]))
                 for g in sorted(set(labels))}
    chance = float(np.mean([(labels.count(lb) - 1) / (len(labels) - 1) for lb in labels]))
    name = model or "default model"
    print(f"\nneighbour genre agreement@5 on gtzan-mini ({len(labels)} clips, {name}): "
          f"{np.mean(agree):.1%} (chance {chance:.1%})")
    print("  " + ", ".join(f"{g} {v:.0%}" for g, v in per_genre.items()))
    return {"agreement_at_5": float(np.mean(agree)), "chance": chance, "per_genre": per_genre,
            "n": len(labels)}


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--index", action="store_true")
    ap.add_argument("--similar", action="store_true")
    ap.add_argument("--quality", action="store_true")
    ap.add_argument("--workers", type=int, nargs="+", default=[1, 2])
    ap.add_argument("--n-mp3", type=int, default=8)
    ap.add_argument("--index-sets", nargs="+", choices=("shared", "mp3"),
                    default=["shared", "mp3"], help="inputs of --index")
    ap.add_argument("--quality-models", nargs="+", default=["default"], metavar="MODEL",
                    help="models for --quality (default: the default model)")
    ap.add_argument("--musicnn-tf", metavar="PYTHON",
                    default=str(TF_PYTHON) if TF_PYTHON.exists() else None,
                    help="interpreter with TensorFlow + musicnn for the side-by-side "
                    f"extractor run (default {TF_PYTHON} if it exists, else skipped)")
    ap.add_argument("--similar-sizes", type=int, nargs="+", default=[100_000, 1_000_000])
    ap.add_argument("--similar-data", choices=("real-like", "isotropic"), default="real-like",
                    help="synthetic embeddings of --similar (see benchmarks/bench_ann.py)")
    ap.add_argument("--baseline", metavar="TREE", type=Path,
                    help="with --index: this tree's default indexing against TREE's (e.g. "
                    "`git worktree add /tmp/base e7900a2`), side by side, and their quality")
    ap.add_argument("--repeats", type=int, default=3, help="alternated runs per tree (--baseline)")
    ap.add_argument("--speed-only", action="store_true",
                    help="with --baseline: skip the quality comparison (whole-track analyses)")
    ap.add_argument("--index-one", nargs="+", metavar="ROOT", help=argparse.SUPPRESS)
    ap.add_argument("--db", help=argparse.SUPPRESS)
    ap.add_argument("--windows", help=argparse.SUPPRESS)
    ap.add_argument("--json", metavar="OUT")
    args = ap.parse_args()
    if args.index_one:
        _index_one(args.index_one, args.db, args.windows, args.workers[0])
        return 0
    everything = not (args.index or args.similar or args.quality)
    report = {"cpus": os.cpu_count()}
    with tempfile.TemporaryDirectory(prefix="bench-library-") as tmp:
        tmp = Path(tmp)
        if args.index and args.baseline:
            report["speedup"] = bench_speedup(args.baseline, tmp, args.n_mp3, args.workers[0],
                                              args.repeats, not args.speed_only)
        elif args.index or everything:
            report["index"] = bench_index(args.workers, args.n_mp3, tmp, args.index_sets,
                                          args.musicnn_tf)
        if args.similar or everything:
            report["similar"] = bench_similar(tmp, args.similar_sizes, args.similar_data)
        if args.quality or everything:
            report["quality"] = {m: bench_quality(tmp, None if m == "default" else m)
                                 for m in args.quality_models}
    if args.json:
        Path(args.json).write_text(json.dumps(report, indent=2))
    return 0


if __name__ == "__main__":
    sys.exit(main())
