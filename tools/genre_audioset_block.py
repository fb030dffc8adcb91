"""Does AudioSet help the default's genre head? Grouped CV with and without a
third block of inputs: the AudioSet companion's clip embedding (mn04, 384-d)
and its genre classes' probabilities, beside msd_musicnn + msd_vgg.

    .venv/bin/python tools/genre_audioset_block.py \\
        ../shared/data/gtzan-mini ../shared/data/gtzan-snippets [--seeds 0 1 2 3 4] \\
        [--cache DIR] [--json OUT]

The build tool's grouped K-fold (by song),
:func:`genrescope.training.crossval.cross_validate` itself (same folds, early
stopping, head size and training settings for each fold seed), run twice
on the same folds: the base inputs (456-d per 3 s patch), and those with
the AudioSet block appended to every patch of the file. The block is a
clip-level input made by the package's own code
(:func:`genrescope.training.context.context_blocks`, the same
:func:`genrescope.context.context_block` the Classifier calls at run time:
the middle 10 s of a 32 kHz decode, :attr:`HearingSpec.max_seconds`), so it
costs no network time beyond ``hearing``'s. The build tool ships it
(``tools/build_default_model.py --context audioset``).
Prints held-out accuracy per source folder for each seed, the mean over
seeds, macro-F1 and the pooled confusion matrices (rows: true genre).
"""

from __future__ import annotations

import argparse
import json
from pathlib import Path

import numpy as np

from genrescope.cache import cache_dir
from genrescope.dataset import list_labelled
from genrescope.models.config import ContextSpec
from genrescope.training.context import AUDIOSET_CONTEXT, context_blocks, load_companion
from genrescope.training.crossval import cross_validate

#: The default's AudioSet genre classes (kept here under their old name).
GENRE_CLASSES = AUDIOSET_CONTEXT["classes"]


def scores(cv) -> dict:
    """Accuracy, macro-F1, accuracy per source folder and the confusion of one run."""
    ok = np.array([r.correct for r in cv.report.files])
    source = np.array([Path(r.file).parent.name for r in cv.report.files])
    return {"accuracy": float(ok.mean()), "macro_f1": float(cv.report.macro_f1),
            **{f"accuracy_{s}": float(ok[source == s].mean()) for s in sorted(set(source))},
            "confusion": np.asarray(cv.report.confusion)[:, :len(cv.labels)].tolist()}


def compare(data: list, seeds, k: int = 5, cache=None, max_seconds: float = 10.0,
            duration_s: float = 30.0, progress: bool = True) -> dict:
    """``{name: [scores of each seed]}`` for the base inputs and with the block."""
    items = sorted({i for d in data for i in list_labelled(d)})
    spec = ContextSpec.model_validate(AUDIOSET_CONTEXT)
    blocks = context_blocks(items, spec, load_companion("audioset"), max_seconds=max_seconds,
                            duration_s=duration_s, cache=cache_dir(cache), progress=progress)
    results = {"base inputs (456)": [], f"+ AudioSet block ({456 + spec.dim})": []}
    for seed in seeds:
        for (name, runs), ctx in zip(results.items(), (None, blocks)):
            cv = cross_validate(items, k, seed=seed, cache=cache, duration_s=duration_s,
                                progress=False, context_blocks=ctx)
            runs.append(scores(cv))
            print(f"seed {seed} {name}: " + ", ".join(
                f"{key} {v:.3f}" for key, v in runs[-1].items() if key != "confusion"),
                flush=True)
    return results


def main(argv=None) -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("data", nargs="+")
    ap.add_argument("--seeds", type=int, nargs="+", default=[0, 1, 2, 3, 4])
    ap.add_argument("-k", type=int, default=5)
    ap.add_argument("--cache")
    ap.add_argument("--json")
    args = ap.parse_args(argv)
    results = compare(args.data, args.seeds, args.k, args.cache)
    labels = sorted({i.label for d in args.data for i in list_labelled(d)})
    for name, runs in results.items():
        keys = [key for key in runs[0] if key != "confusion"]
        print(f"\n{name}, mean over seeds {args.seeds}: " + ", ".join(
            f"{key} {np.mean([r[key] for r in runs]):.3f}" for key in keys))
        pooled = np.sum([r["confusion"] for r in runs], axis=0)
        print("pooled confusion (rows true, columns predicted): " + " ".join(labels))
        for lab, row in zip(labels, pooled):
            print(f"  {lab:<10}" + "".join(f"{v:>5}" for v in row))
    if args.json:
        Path(args.json).write_text(json.dumps({"seeds": args.seeds, "labels": labels,
                                               "runs": results}, indent=1), encoding="utf-8")


if __name__ == "__main__":
    main()
