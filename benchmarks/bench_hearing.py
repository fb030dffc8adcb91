"""The default with its AudioSet companion (``hearing``) against the same
default without it (today's), on a 30 s clip, side by side in one run.

    .venv/bin/python benchmarks/bench_hearing.py [--repeats 9] [--file SONG] [--threads N]

The clip is ``--file`` (first 30 s), else the first of
``../shared/data/music-clips`` (a real 44.1 kHz stereo OGG), else 30 s of
synthesised music written to a temporary WAV (the report says so). "today"
is a copy of the shipped ``genres`` bundle without its ``hearing`` entry.
Each round classifies the file path (decode included: the new default
decodes once at 32 kHz and resamples to 16 kHz) with both, alternating which
goes first; medians, min, max and the ratio new / today are printed (wall
time, and this process's CPU time, which other processes on a shared
machine disturb less), with the load average before and after.
"""

from __future__ import annotations

import argparse
import json
import os
import shutil
import statistics
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
CLIPS = ROOT.parent / "shared" / "data" / "music-clips"
BUNDLE = ROOT / "genrescope" / "assets" / "genres"


def without_hearing(folder: Path) -> Path:
    """A copy of the shipped default without ``hearing``: today's default."""
    out = folder / "genres_today"
    shutil.copytree(BUNDLE, out)
    config = json.loads((out / "config.json").read_text(encoding="utf-8"))
    if (config.get("head") or {}).get("context"):
        raise SystemExit("bench_hearing: the shipped genre head reads its companion's block "
                         "(head.context), so it cannot run without 'hearing'; compare source "
                         "trees instead: benchmarks/bench_trees.py --baseline OTHER_TREE")
    config.pop("hearing")
    config["name"] = "genres_today"
    (out / "config.json").write_text(json.dumps(config), encoding="utf-8")
    return out


def clip(path: str | None, folder: Path) -> str:
    if path is None and CLIPS.is_dir() and sorted(CLIPS.glob("*.ogg")):
        return str(sorted(CLIPS.glob("*.ogg"))[0])
    if path:
        return path
    import soundfile as sf

    from genrescope.synth import chord, groove

    print(f"bench_hearing: {CLIPS} is missing; using 30 s of synthesised music",
          file=sys.stderr)
    out = folder / "synth.wav"
    sf.write(out, 0.5 * chord(30.0, 44100) + 0.5 * groove(30.0, 44100), 44100)
    return str(out)


def main(argv=None) -> None:
    import torch

    from genrescope import Classifier

    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--repeats", type=int, default=9)
    ap.add_argument("--file")
    ap.add_argument("--threads", type=int, default=0, help="torch threads (0: torch's default)")
    args = ap.parse_args(argv)
    if args.threads:
        torch.set_num_threads(args.threads)
    with tempfile.TemporaryDirectory() as tmp:
        path = clip(args.file, Path(tmp))
        clfs = {"today": Classifier.load(without_hearing(Path(tmp)), device="cpu"),
                "new": Classifier.load("genres", device="cpu")}
        for clf in clfs.values():                     # first call: imports, caches
            clf.classify(path, duration_s=30.0)
        times = {k: [] for k in clfs}
        cpu = {k: [] for k in clfs}
        load_before = os.getloadavg()
        for r in range(args.repeats):
            for k in (("today", "new") if r % 2 == 0 else ("new", "today")):
                t0, c0 = time.perf_counter(), time.process_time()
                pred = clfs[k].classify(path, duration_s=30.0)
                times[k].append(time.perf_counter() - t0)
                cpu[k].append(time.process_time() - c0)
        load_after = os.getloadavg()
    print(f"clip: {Path(path).name}, {pred.audio.duration_s:.1f} s; {args.repeats} rounds; "
          f"torch threads {torch.get_num_threads()}; load average (1 min) "
          f"{load_before[0]:.2f} before, {load_after[0]:.2f} after")
    base = statistics.median(times["today"])
    print(f"{'model':<10}{'median s':>10}{'min s':>10}{'max s':>10}{'new/today':>11}"
          f"{'CPU s':>9}{'CPU new/today':>15}")
    cpu_base = statistics.median(cpu["today"])
    for k, v in times.items():
        print(f"{k:<10}{statistics.median(v):>10.3f}{min(v):>10.3f}{max(v):>10.3f}"
              f"{statistics.median(v) / base:>11.2f}{statistics.median(cpu[k]):>9.3f}"
              f"{statistics.median(cpu[k]) / cpu_base:>15.2f}")
    print("CPU s: this process's processor time (time.process_time), less disturbed than "
          "wall time when other work shares the cores")
    print("new's stages (last round): " + ", ".join(f"{k} {v:.3f} s"
                                                    for k, v in pred.timings.items()))


if __name__ == "__main__":
    main()
