"""The default model `genres` against the old default `musicnn_genres`: load
time and the time to analyse a 30 s clip, side by side in one run.

    .venv/bin/python benchmarks/bench_default_model.py [--repeats 7] [--file SONG]

The clip is ``--file`` (first 30 s), else the first of
``../shared/data/music-clips`` when that folder exists, else 30 s of
synthesised music (genrescope.synth). Each round times both models on the
same decoded window, alternating which goes first; medians, min, max and
the ratio new / old are printed. Load time is a fresh ``Classifier.load``
in this process (files in the OS cache after the first round).
"""

from __future__ import annotations

import argparse
import statistics
import sys
import time
from pathlib import Path

import numpy as np
import torch

ROOT = Path(__file__).resolve().parent.parent
CLIPS = ROOT.parent / "shared" / "data" / "music-clips"
OLD, NEW = "musicnn_genres", "genres"


def clip(path: str | None) -> tuple[str, np.ndarray, int]:
    from genrescope.audio import load_audio
    from genrescope.synth import chord, groove

    if path is None and CLIPS.is_dir() and sorted(CLIPS.glob("*.ogg")):
        path = str(sorted(CLIPS.glob("*.ogg"))[0])
    if path:
        return Path(path).name, load_audio(path, 16000, duration_s=30.0).y, 16000
    print(f"bench_default_model: {CLIPS} is missing; using 30 s of synthesised music",
          file=sys.stderr)
    return "synthesised", (0.5 * chord(30.0, 16000) + 0.5 * groove(30.0, 16000)), 16000


def main(argv=None) -> None:
    from genrescope import Classifier

    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--repeats", type=int, default=7)
    ap.add_argument("--file")
    args = ap.parse_args(argv)
    name, y, sr = clip(args.file)
    times = {m: {"load": [], "classify 30 s": []} for m in (OLD, NEW)}
    clfs = {}
    for m in (OLD, NEW):                          # first load of each: imports, OS cache
        clfs[m] = Classifier.load(m, device="cpu")
        clfs[m].classify(y[:sr], sr=sr, duration_s=None)
    for r in range(args.repeats):
        for m in ((OLD, NEW) if r % 2 == 0 else (NEW, OLD)):
            t0 = time.perf_counter()
            clf = Classifier.load(m, device="cpu")
            t1 = time.perf_counter()
            pred = clf.classify(y, sr=sr, duration_s=None)
            t2 = time.perf_counter()
            times[m]["load"].append(t1 - t0)
            times[m]["classify 30 s"].append(t2 - t1)
    print(f"clip: {name}, {len(y) / sr:.1f} s; {args.repeats} rounds; torch threads "
          f"{torch.get_num_threads()}")
    print(f"{'stage':<16}{'model':<16}{'median s':>10}{'min s':>10}{'max s':>10}{'new/old':>9}")
    for stage in ("load", "classify 30 s"):
        base = statistics.median(times[OLD][stage])
        for m in (OLD, NEW):
            v = times[m][stage]
            ratio = statistics.median(v) / base
            print(f"{stage:<16}{m:<16}{statistics.median(v):>10.3f}{min(v):>10.3f}"
                  f"{max(v):>10.3f}{ratio:>9.2f}")
    for m in (OLD, NEW):
        top = clfs[m].classify(y, sr=sr, duration_s=None).top[0]
        print(f"{m}: top-1 {top.label} {top.probability:.0%}")


if __name__ == "__main__":
    main()
