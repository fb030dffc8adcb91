"""Cost of the ``audioset`` model (EfficientAT mn04) next to the default
``genres`` on the same 30 s clip, in one process loop.

    .venv/bin/python benchmarks/bench_audioset.py [--repeats 5] [--file SONG]

The clip is ``--file`` (first 30 s), else the first of
``../shared/data/music-clips`` when that folder exists, else 30 s of
synthesised music. Each round classifies the decoded window with both
models (alternating which goes first); per model and stage (front end,
network, whole ``classify`` of the array) it prints median, min, max and
the ratio to ``genres``. The audioset front end and network times are what
adding mn04 beside the default would add to each analysis.
"""

from __future__ import annotations

import argparse
import statistics
import sys
from pathlib import Path

import numpy as np
import torch

ROOT = Path(__file__).resolve().parent.parent
CLIPS = ROOT.parent / "shared" / "data" / "music-clips"
BASE, NEW = "genres", "audioset"
SR = 44100


def clip(path: str | None) -> tuple[str, np.ndarray]:
    from genrescope.audio import load_audio
    from genrescope.synth import chord, groove

    if path is None and CLIPS.is_dir() and sorted(CLIPS.glob("*.ogg")):
        path = str(sorted(CLIPS.glob("*.ogg"))[0])
    if path:
        return Path(path).name, load_audio(path, SR, duration_s=30.0).y
    print(f"bench_audioset: {CLIPS} is missing; using 30 s of synthesised music", file=sys.stderr)
    return "synthesised", (0.5 * chord(30.0, SR) + 0.5 * groove(30.0, SR)).astype(np.float32)


def main(argv=None) -> None:
    from genrescope import Classifier

    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--repeats", type=int, default=5)
    ap.add_argument("--file")
    args = ap.parse_args(argv)
    name, y = clip(args.file)
    models = {n: Classifier.load(n) for n in (BASE, NEW)}
    for clf in models.values():
        clf.warm_up()
    times = {n: {"features": [], "network": [], "total": []} for n in models}
    for r in range(args.repeats):
        for n in (list(models) if r % 2 == 0 else list(models)[::-1]):
            pred = models[n].classify(y, sr=SR, duration_s=None)
            for stage in times[n]:
                times[n][stage].append(pred.timings[stage])
    print(f"clip: {name}, {len(y) / SR:.1f} s; {args.repeats} rounds; torch threads "
          f"{torch.get_num_threads()}")
    print(f"{'model':10s} {'stage':9s} {'median s':>9s} {'min s':>7s} {'max s':>7s} "
          f"{'ratio':>6s}")
    for n in models:
        for stage, values in times[n].items():
            base = statistics.median(times[BASE][stage])
            med = statistics.median(values)
            print(f"{n:10s} {stage:9s} {med:9.3f} {min(values):7.3f} {max(values):7.3f} "
                  f"{med / base:6.2f}")


if __name__ == "__main__":
    main()
