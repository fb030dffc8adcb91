"""Print the ``audioset`` model's top tags and what :mod:`genrescope.hearing` makes of them.

    PYTHONPATH=. .venv/bin/python tools/audioset_hear.py FILE [FILE ...] [--lang zh]

For trying the rules by hand; the thresholds are not to be tuned on these clips.
"""

from __future__ import annotations

import argparse
import sys
from pathlib import Path


def describe(hearing, lang: str) -> list[str]:
    """Lines for one clip's :class:`~genrescope.hearing.Hearing`."""
    kind = hearing.kind
    evidence = ", ".join(f"{k} {v:.2f}" for k, v in kind.evidence.items())
    lines = [f"  what: {kind.kind.name(lang)} ({kind.score:.2f}; evidence {evidence})"]
    heard = "; ".join(f"{h.name.name(lang)} {h.score:.2f}" for h in hearing.heard) or "-"
    lines.append(f"  heard: {heard}")
    if hearing.outside:
        o = hearing.outside
        lines.append(f"  outside the ten: {o.family.name(lang)} ({o.genre.name(lang)} "
                     f"{o.score:.2f}; strongest of the ten {o.inside_score:.2f})")
    else:
        lines.append("  outside the ten: -")
    return lines


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("files", nargs="+", type=Path)
    parser.add_argument("--lang", default="en", choices=("en", "zh"))
    parser.add_argument("--duration-s", type=float, default=30.0)
    args = parser.parse_args()

    from genrescope import Classifier
    from genrescope.hearing import chunk_peaks, hear

    clf = Classifier.load("audioset")
    for path in args.files:
        pred = clf.classify(path, duration_s=args.duration_s, top_k=6)
        tags = ", ".join(f"{g.name(args.lang)} {g.probability:.2f}" for g in pred.top)
        n_chunks = len(pred.chunk_probabilities)
        print(f"{path.name} ({pred.audio.duration_s:.1f} s, {n_chunks} chunks)")
        print(f"  top tags: {tags}")
        print("\n".join(describe(hear(pred.probabilities, clf.genres, chunk_peaks(
            [g.id for g in clf.genres], pred.chunk_probabilities)), args.lang)))
    return 0


if __name__ == "__main__":
    sys.exit(main())
