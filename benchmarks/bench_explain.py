"""Explanation cost: occlusion time for a 30 s clip per model, against the
classification of the same clip measured in the same loop.

    .venv/bin/python benchmarks/bench_explain.py [--repeats 3] [--budgets 60]
        [--models musicnn_genres,msd_musicnn,vgg19_bn_cqt:fp32,vgg19_bn_cqt:int8]
        [--models-dir DIR]

Models: the shipped musicnn ones; VGG from ``--models-dir`` when it holds
``<name>/save.pt``, else random-weight checkpoints with the official key
layout written to a temporary folder (same speed, meaningless answers).
``name:int8`` asks for int8 (the VGG models' CPU default once a checkpoint
passed its check). The clip is synthesised (chord, then groove), 30 s.
Printed: the grid the budget gives, forward passes, medians (min, max) of
``classify`` and of ``explain_prediction`` (the occlusion passes alone, on
the same prediction), and their ratio; then the load average, since the
machine may be shared.
"""

from __future__ import annotations

import argparse
import os
import tempfile
import time
from pathlib import Path

import numpy as np
import torch


def clip(sr: int) -> np.ndarray:
    from genrescope.synth import chord, groove

    return np.concatenate([chord(15.0, sr), groove(15.0, sr)])


def vgg_dir(tmp: Path, name: str, explicit: str | None) -> tuple[Path, str]:
    from genrescope.models.registry import models_dir
    from genrescope.models.vgg import VGG

    real = models_dir(explicit)
    if (real / name / "save.pt").is_file():
        return real, f"weights from {real}"
    arch = name.split("_bn_")[0] + "_bn"
    (tmp / name).mkdir(parents=True, exist_ok=True)
    torch.manual_seed(0)
    torch.save(VGG(arch, 16).state_dict(), tmp / name / "save.pt")
    return tmp, "random weights"


def stats(values: list[float]) -> str:
    return f"{np.median(values):7.3f} ({min(values):.3f}, {max(values):.3f})"


def main(argv=None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--models", default="musicnn_genres,msd_musicnn,vgg19_bn_cqt:fp32,"
                        "vgg19_bn_cqt:int8")
    parser.add_argument("--budgets", default="", help="comma-separated (default: DEFAULT_BUDGET)")
    parser.add_argument("--repeats", type=int, default=3)
    parser.add_argument("--models-dir")
    args = parser.parse_args(argv)

    from genrescope import Classifier
    from genrescope.explain import DEFAULT_BUDGET, explain_prediction

    budgets = [int(b) for b in args.budgets.split(",") if b] or [DEFAULT_BUDGET]
    print(f"torch threads {torch.get_num_threads()}, 30 s clip, {args.repeats} repeats")
    header = (f"{'model':<16} {'prec':<5} {'budget':>6} {'passes':>6} {'grid':>9} "
              f"{'classify s median (min, max)':>30} {'explain s median (min, max)':>30} "
              f"{'ratio':>6}")
    print(header)
    print("-" * len(header))
    with tempfile.TemporaryDirectory(prefix="bench-explain-") as tmp:
        for spec in args.models.split(","):
            name, _, precision = spec.partition(":")
            folder, origin = (None, "shipped")
            if name.startswith("vgg"):
                folder, origin = vgg_dir(Path(tmp), name, args.models_dir)
            clf = Classifier.load(name, models_dir=folder, device="cpu",
                                  precision=precision or "auto")
            y = clip(clf.model.sr)
            clf.classify(y, sr=clf.model.sr)                           # warm-up
            for budget in budgets:
                classify_s, explain_s, why = [], [], None
                for _ in range(args.repeats):
                    t = time.perf_counter()
                    pred = clf.classify(y, sr=clf.model.sr)
                    classify_s.append(time.perf_counter() - t)
                    t = time.perf_counter()
                    why = explain_prediction(clf, pred, budget=budget)
                    explain_s.append(time.perf_counter() - t)
                n_chunks = int(why.chunk_index.max()) + 1
                grid = f"{why.heat.shape[0]}x{why.heat.shape[1] // n_chunks}x{n_chunks}"
                print(f"{name:<16} {clf.model.precision:<5} {budget:>6} {why.n_passes:>6} "
                      f"{grid:>9} {stats(classify_s):>30} {stats(explain_s):>30} "
                      f"{np.median(explain_s) / np.median(classify_s):5.1f}x   ({origin})",
                      flush=True)
    print("grid = bands x time cells per chunk x chunks; ratio = explain / classify")
    print(f"load average {os.getloadavg()[0]:.2f} (1 min), {os.cpu_count()} CPUs")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
