"""Does AudioSet help the default's genre head? Grouped CV with and without a
third block of inputs: the AudioSet companion's clip embedding (mn04, 384-d)
and its genre classes' probabilities, beside msd_musicnn + msd_vgg.

    .venv/bin/python tools/genre_audioset_block.py \\
        ../shared/data/gtzan-mini ../shared/data/gtzan-snippets [--seeds 0 1 2 3 4] \\
        [--cache DIR] [--json OUT]

The same grouped K-fold (by song) as the build tool
(:func:`genrescope.training.crossval.cross_validate`: same folds, early
stopping, head size and training settings for each fold seed), run twice
on the same folds: the shipped inputs (456-d per 3 s patch), and those
with the AudioSet block appended to every patch of the file. The block is
a clip-level input, computed as the Classifier computes it at run time (the
middle 10 s of a 32 kHz decode, :attr:`HearingSpec.max_seconds`), so
keeping it would cost no more network time than ``hearing`` does already.
Prints held-out accuracy per source folder for each seed, the mean over
seeds, macro-F1 and the pooled confusion matrices (rows: true genre).
"""

from __future__ import annotations

import argparse
import json
import sys
from pathlib import Path

import numpy as np
import torch

from genrescope.cache import cache_dir
from genrescope.dataset import grouped_folds, list_labelled
from genrescope.hearing import INSIDE_TEN, OUTSIDE_FAMILIES
from genrescope.track import clips_scores
from genrescope.training.common import split_files, stack
from genrescope.training.head import HEAD_DEFAULTS, INPUT_LEVEL, base_embeddings, fit_head

GENRE_CLASSES = list(INSIDE_TEN) + [c for _, classes in OUTSIDE_FAMILIES for c in classes]


def audioset_block(items, seconds: float = 10.0) -> dict:
    """item -> (384 + len(GENRE_CLASSES),) float32: the companion's clip embedding
    and genre-class probabilities on the middle ``seconds`` of a 32 kHz decode."""
    from genrescope.audio import load_audio
    from genrescope.models.registry import load_model, resolve

    model = load_model(resolve("audioset"))
    cols = [model.labels.index(c) for c in GENRE_CLASSES]
    out = {}
    for n, item in enumerate(items):
        y = load_audio(item.path, model.sr, duration_s=30.0).y
        k = min(len(y), int(seconds * model.sr))
        start = (len(y) - k) // 2
        inputs = model.features(y[start:start + k]).inputs
        with torch.inference_mode():
            scores, emb = model.scores_and_embed(inputs)
        out[item] = np.concatenate([emb.mean(0).numpy(), scores.mean(0).numpy()[cols]])
        if n % 100 == 0:
            print(f"audioset block {n}/{len(items)}", file=sys.stderr, flush=True)
    return out


def run_cv(by_file: dict, items, labels, k: int, seed: int):
    """Held-out (item, probabilities) of grouped K-fold CV, as cross_validate does it."""
    hp = HEAD_DEFAULTS
    held_out = []
    for rest, held in grouped_folds(items, k, seed):
        fit_items, stop_items = split_files(rest, 0.2, seed)
        x_tr, y_tr, _ = stack([by_file[i] for i in fit_items], fit_items, labels)
        x_st, _, g_st = stack([by_file[i] for i in stop_items], stop_items, labels)
        y_st = np.array([labels.index(i.label) for i in stop_items], dtype=np.int64)
        head, *_ = fit_head(x_tr, y_tr, x_st, y_st, g_st, len(labels), hidden=hp["hidden"],
                            dropout=hp["dropout"], epochs=hp["epochs"],
                            batch_size=hp["batch_size"], lr=hp["lr"],
                            weight_decay=hp["weight_decay"], patience=hp["patience"],
                            seed=seed, device=torch.device("cpu"))
        x_h, _, g_h = stack([by_file[i] for i in held], held, labels)
        with torch.inference_mode():
            probs = torch.softmax(head(torch.from_numpy(x_h)), 1).numpy()
        held_out += list(zip(held, clips_scores(probs, g_h, len(held), normalise=True)))
    return held_out


def scores(held_out, labels) -> dict:
    true = np.array([labels.index(i.label) for i, _ in held_out])
    pred = np.array([int(np.argmax(p)) for _, p in held_out])
    source = np.array([Path(i.path).parent.name for i, _ in held_out])
    confusion = np.zeros((len(labels), len(labels)), int)
    np.add.at(confusion, (true, pred), 1)
    f1 = [2 * confusion[j, j] / max(confusion[j].sum() + confusion[:, j].sum(), 1)
          for j in range(len(labels))]
    return {"accuracy": float((true == pred).mean()), "macro_f1": float(np.mean(f1)),
            **{f"accuracy_{s}": float((true == pred)[source == s].mean())
               for s in sorted(set(source))},
            "confusion": confusion.tolist()}


def main(argv=None) -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("data", nargs="+")
    ap.add_argument("--seeds", type=int, nargs="+", default=[0, 1, 2, 3, 4])
    ap.add_argument("-k", type=int, default=5)
    ap.add_argument("--cache")
    ap.add_argument("--json")
    args = ap.parse_args(argv)
    items = sorted({i for d in args.data for i in list_labelled(d)})
    labels = sorted({i.label for i in items})
    _, arrays, kept, _, _ = base_embeddings(items, torch.device("cpu"), 30.0,
                                            cache_dir(args.cache), True, level=INPUT_LEVEL)
    base = dict(zip(kept, arrays))
    block = audioset_block(kept)
    both = {i: np.concatenate([a, np.repeat(block[i][None], len(a), 0)], 1).astype(np.float32)
            for i, a in base.items()}
    results = {"shipped inputs (456)": [], f"+ AudioSet block ({456 + len(block[kept[0]])})": []}
    for seed in args.seeds:
        for (name, runs), by_file in zip(results.items(), (base, both)):
            runs.append(scores(run_cv(by_file, kept, labels, args.k, seed), labels))
            r = runs[-1]
            print(f"seed {seed} {name}: " + ", ".join(
                f"{key} {v:.3f}" for key, v in r.items() if key != "confusion"), flush=True)
    for name, runs in results.items():
        keys = [key for key in runs[0] if key != "confusion"]
        print(f"\n{name}, mean over seeds {args.seeds}: " + ", ".join(
            f"{key} {np.mean([r[key] for r in runs]):.3f}" for key in keys))
        pooled = np.sum([r["confusion"] for r in runs], axis=0)
        print("pooled confusion (rows true, columns predicted): " + " ".join(labels))
        for lab, row in zip(labels, pooled):
            print(f"  {lab:<10}" + "".join(f"{v:>5}" for v in row))
    if args.json:
        Path(args.json).write_text(json.dumps(results, indent=1), encoding="utf-8")


if __name__ == "__main__":
    main()
