"""Grouped K-fold cross-validation of the ``head`` method, reported as
:func:`genrescope.evaluate.evaluate` reports."""

from __future__ import annotations

import os
import sys
from dataclasses import dataclass, field

import numpy as np
import torch

from ..cache import cache_dir
from ..context import with_context
from ..dataset import grouped_folds, list_labelled
from ..errors import GenrescopeError
from ..evaluate import EvaluationReport, build_report, file_result
from ..track import clips_scores
from .common import (head_clip_means, split_files, stack, torch_device,
                     want_progress)
from .head import BASE_NAME, HEAD_DEFAULTS, INPUT_LEVEL, base_embeddings, fit_head


@dataclass
class CrossValidation:
    """Figures of :func:`cross_validate`.

    Attributes
    ----------
    k : int
    fold_accuracies : list of float
        File accuracy on each fold's held-out files.
    report : EvaluationReport
        Every file predicted once, by the fold that held it out.
    labels : list of str
        The label order of ``logits``.
    logits : list of np.ndarray
        Per file of ``report.files`` (same order), the held-out head's
        per-patch logits (n_patches, n_labels): what calibration is fitted on.
    variant_correct : dict
        ``{name: {item: bool}}``: whether the fold that held ``item`` out got
        its genre right from each ``variants`` embedding (e.g. the clip 30 dB
        quieter).
    """

    k: int
    fold_accuracies: list
    report: EvaluationReport
    labels: list = field(default_factory=list)
    logits: list = field(default_factory=list)
    variant_correct: dict = field(default_factory=dict)

    def table(self) -> str:
        accs = np.array(self.fold_accuracies)
        return (f"{self.k}-fold cross-validation: accuracy {self.report.accuracy:.1%} over "
                f"{len(self.report.files)} files (folds: "
                f"{', '.join(f'{a:.0%}' for a in accs)}; mean {accs.mean():.1%} "
                f"± {accs.std(ddof=1) if len(accs) > 1 else 0:.1%})\n" + self.report.table())


def cross_validate(data: str | os.PathLike, k: int = 5, *, out: str | os.PathLike | None = None,
                   seed: int = 0, val_split: float = 0.2, device: str | None = None,
                   duration_s: float | None = 30.0, hidden: int | None = None,
                   epochs: int | None = None, batch_size: int | None = None,
                   cache: str | os.PathLike | None = None,
                   progress: bool | None = None, level: dict | None = INPUT_LEVEL,
                   variants: dict | None = None,
                   context_blocks: dict | None = None) -> CrossValidation:
    """K-fold cross-validated accuracy of the head method.

    Each fold trains a head on the other folds, with early stopping on a
    ``val_split`` share of *those* files (the held-out fold is never looked
    at while training), and predicts its held-out files. Embeddings come
    from the same cache as :func:`train`. With ``out``, the pooled report is
    saved there (``report.json``, ``confusion.png``, ``reliability.png``); no
    model is kept.

    Folds are by song (:func:`genrescope.dataset.grouped_folds`): a GTZAN
    clip and an excerpt of it with the same ``<genre>.<id>`` are held out
    together. ``data`` may also be a list of :class:`LabelledFile`.
    ``level`` is the input level of :func:`base_embeddings`; ``variants``
    (``{name: {item: per-patch embeddings}}``) are also predicted by the
    fold that holds each item out (see ``CrossValidation.variant_correct``).
    ``context_blocks`` (``{item: block}``, :func:`genrescope.training.context.context_blocks`):
    the head reads each file's clip-level block beside every patch (the
    ``variants`` must then carry their own blocks already).
    """
    items = data if isinstance(data, list) else list_labelled(data)
    labels = sorted({i.label for i in items})
    if len(labels) < 2:
        raise GenrescopeError("Cross-validation needs at least two genres.")
    progress = want_progress(progress)
    dev = torch_device(device)
    hp = dict(HEAD_DEFAULTS)
    hp["epochs"] = epochs or hp["epochs"]
    hp["batch_size"] = batch_size or hp["batch_size"]
    hp["hidden"] = hp["hidden"] if hidden is None else hidden
    _, arrays, kept, skipped, _ = base_embeddings(items, dev, duration_s or None,
                                                   cache_dir(cache), progress, level=level)
    by_file = {i: a for i, a in zip(kept, arrays)}
    if context_blocks is not None:
        by_file = with_context({i: by_file[i] for i in kept if i in context_blocks},
                               context_blocks)
        kept = [i for i in kept if i in by_file]
    folds = grouped_folds(kept, k, seed)
    targets = {lab: [lab] for lab in labels}
    results, fold_accs, held_logits = [], [], []
    variant_correct: dict = {name: {} for name in variants or {}}
    for n, (rest, held) in enumerate(folds, 1):
        fit_items, stop_items = split_files(rest, val_split, seed)
        x_tr, y_tr, _ = stack([by_file[i] for i in fit_items], fit_items, labels)
        x_st, _, g_st = stack([by_file[i] for i in stop_items], stop_items, labels)
        y_st = np.array([labels.index(i.label) for i in stop_items], dtype=np.int64)
        head, best_epoch, _, interrupted = fit_head(
            x_tr, y_tr, x_st, y_st, g_st, len(labels), hidden=hp["hidden"],
            dropout=hp["dropout"], epochs=hp["epochs"], batch_size=hp["batch_size"],
            lr=hp["lr"], weight_decay=hp["weight_decay"], patience=hp["patience"],
            seed=seed, device=dev, progress=False)
        if interrupted:
            raise KeyboardInterrupt
        x_h, _, g_h = stack([by_file[i] for i in held], held, labels)
        with torch.inference_mode():
            logits = head(torch.from_numpy(x_h)).numpy()
        probs = torch.softmax(torch.from_numpy(logits), 1).numpy()
        held_logits += [logits[g_h == j] for j in range(len(held))]
        files = clips_scores(probs, g_h, len(held), normalise=True)
        hits = 0
        for item, p in zip(held, files):
            order = np.argsort(-p, kind="stable")
            top = [[labels[j], round(float(p[j]), 6)] for j in order[:3]]
            results.append(file_result(item.path, item.label, top, targets))
            hits += results[-1].correct
        fold_accs.append(hits / len(held))
        for name, arrays_of in (variants or {}).items():
            have = [i for i in held if i in arrays_of]
            if have:
                p_v = head_clip_means(head, [arrays_of[i] for i in have])
                for item, p in zip(have, p_v):
                    variant_correct[name][item] = labels[int(np.argmax(p))] == item.label
        if progress:
            print(f"fold {n}/{k}: {hits}/{len(held)} correct (best epoch {best_epoch})",
                  file=sys.stderr)
    report = build_report(f"head on {BASE_NAME}, {k}-fold CV", labels, results, skipped, 3,
                          duration_s=duration_s or None)
    if out:
        report.save(out)
    return CrossValidation(k, fold_accs, report, labels, held_logits, variant_correct)

