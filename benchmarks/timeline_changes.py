"""Does the timeline show a genre change inside one analysed window? Two real
clips of different genres joined (the first ``--seconds`` of each), classified
as one window; counts the windows whose timeline changes genre and those
whose first and last segments are the two clips' genres.

    .venv/bin/python benchmarks/timeline_changes.py [--model genres] [--pairs 30] [--seed 0]

The clips are the first file of each genre in ``../shared/data/gtzan-mini``;
``--pairs`` ordered genre pairs are drawn with ``--seed``. Written to compare
a head that reads its companion's clip-level block (one per window,
docs/models/genres.md) with one that does not.
"""

from __future__ import annotations

import argparse
import itertools
from pathlib import Path

import numpy as np

DATA = Path(__file__).resolve().parent.parent.parent / "shared" / "data" / "gtzan-mini"


def main(argv=None) -> None:
    from genrescope import Classifier
    from genrescope.audio import load_audio

    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--model")
    ap.add_argument("--data", default=str(DATA))
    ap.add_argument("--pairs", type=int, default=30)
    ap.add_argument("--seconds", type=float, default=12.0)
    ap.add_argument("--seed", type=int, default=0)
    args = ap.parse_args(argv)
    clf = Classifier.load(args.model)
    genres = [g.id for g in clf.genres]
    pairs = list(itertools.permutations(genres, 2))
    chosen = np.random.default_rng(args.seed).choice(len(pairs), args.pairs, replace=False)
    n = int(args.seconds * 16000)
    changed = right = 0
    for a, b in (pairs[i] for i in chosen):
        ya, yb = (load_audio(sorted(Path(args.data).glob(f"{g}.*"))[0], 16000,
                             duration_s=args.seconds).y[:n] for g in (a, b))
        ids = [s.genre.id for s in clf.classify(np.concatenate([ya, yb]), sr=16000)
               .timeline.segments()]
        changed += len(set(ids)) >= 2
        right += ids[0] == a and ids[-1] == b
    print(f"{clf.name} (context block: {clf.model.context is not None}): a change shown in "
          f"{changed} / {args.pairs} windows; first and last segment right in {right}")


if __name__ == "__main__":
    main()
