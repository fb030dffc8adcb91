"""The ``head`` method: a small classifier on the frozen base model's per-patch
embeddings, computed by the base model itself (``Model.features`` ->
``Model.embed``) and cached."""

from __future__ import annotations

import sys
from pathlib import Path

import numpy as np
import torch
import torch.nn.functional as F

from ..track import clips_scores
from .common import (FeatureCache, TrainResult, class_weights, extract_features,
                     final_report, split_arrays, torch_threads,
                     training_info, write_bundle)

#: The base models whose per-patch embeddings a head is trained on, side by
#: side (musicnn's MSD taggers: musicnn 200-d + VGG 256-d; chosen by grouped
#: cross-validation, see docs/models/genres.md).
BASE_MODEL = ("msd_musicnn", "msd_vgg")
BASE_NAME = " + ".join(BASE_MODEL)
HEAD_DEFAULTS = {"epochs": 300, "batch_size": 64, "lr": 1e-3, "weight_decay": 1e-3,
                 "hidden": 256, "dropout": 0.5, "patience": 40}
#: Quiet inputs are turned up to this level before the base model, in
#: training and in use (the bundle's ``"input_level"``; see
#: :func:`genrescope.audio.raise_level` and docs/models/genres.md).
INPUT_LEVEL = {"target_dbfs": -20.0, "max_gain_db": 40.0}


def load_base(device):
    """The base models of :data:`BASE_MODEL`, stacked (one front end)."""
    from ..models.head import stack_bases
    from ..models.registry import load_model, resolve

    return stack_bases([load_model(resolve(name), str(device)) for name in BASE_MODEL])


def base_embeddings(items, device, duration_s, cache_root, progress, desc="embeddings",
                    level: dict | None = INPUT_LEVEL):
    """Per-patch embeddings (n_patches, D) of each file, through the cache:
    the base model's own front end and embedding (``features`` -> ``embed``),
    in float32 as :class:`~genrescope.models.head.EmbeddingHeadModel` loads it,
    after :func:`~genrescope.audio.raise_level` with ``level`` (None: as decoded).

    Returns
    -------
    base : Model
    arrays, kept, skipped : as :func:`~genrescope.training.common.extract_features`
    cache : FeatureCache
    """
    from ..audio import load_audio, raise_level

    base = load_base(device)
    params = {"model": list(BASE_MODEL), "representation": base.config.representation,
              "components": base.config.components}
    if level is not None:                 # caches written before levels existed stay valid
        params["input_level"] = level
    cache = FeatureCache(cache_root, "embeddings", params)

    def compute(path):
        y = load_audio(path, base.sr, duration_s=duration_s).y
        inputs = base.features(y if level is None else raise_level(y, **level)).inputs.to(device)
        with torch.inference_mode():
            return base.embed(inputs).float().cpu().numpy()

    arrays, kept, skipped = extract_features(items, cache, compute, duration_s, progress, desc)
    return base, arrays, kept, skipped, cache


def fit_head(x_train: np.ndarray, y_train: np.ndarray, x_val: np.ndarray | None,
             y_val_files: np.ndarray, val_groups: np.ndarray, n_labels: int, *,
             hidden: int, dropout: float, epochs: int, batch_size: int, lr: float,
             weight_decay: float, patience: int, seed: int, device: torch.device,
             progress: bool = False, on_epoch=None):
    """Train an :class:`~genrescope.models.head.EmbeddingHead` on per-patch embeddings.

    AdamW, class-weighted cross-entropy, early stopping on the validation
    files: the best epoch has the highest file accuracy (mean softmax over a
    file's patches, as the Classifier decides), ties broken by the lower
    validation loss; training stops ``patience`` epochs after it. Without a
    validation set all ``epochs`` run and the last is kept.

    Returns
    -------
    head : EmbeddingHead
        On the CPU, in eval mode, with the best epoch's weights.
    best_epoch : int
    history : list of dict
    interrupted : bool
    """
    from tqdm import tqdm

    from ..models.head import EmbeddingHead

    torch.manual_seed(seed)
    head = EmbeddingHead(x_train.shape[1], n_labels, [hidden] if hidden else [], dropout)
    # Per-dimension standardisation, but no dimension is scaled up beyond the
    # median: an embedding unit that (nearly) never varies in the training
    # files would otherwise turn any activity in a new clip into a huge input.
    mean = x_train.mean(axis=0)
    std = x_train.std(axis=0)
    floor = max(float(np.median(std)), 1e-6)
    head.mean.copy_(torch.from_numpy(mean))
    head.std.copy_(torch.from_numpy(np.maximum(std, floor)))
    head.to(device)
    weights = class_weights(y_train, n_labels).to(device)
    opt = torch.optim.AdamW(head.parameters(), lr=lr, weight_decay=weight_decay)
    xt = torch.from_numpy(x_train).to(device)
    yt = torch.from_numpy(y_train).to(device)
    xv = torch.from_numpy(x_val).to(device) if x_val is not None else None
    yv = torch.from_numpy(y_val_files[val_groups]).to(device) if x_val is not None else None
    gen = torch.Generator().manual_seed(seed)
    best, best_key, best_epoch, history, interrupted = None, None, 0, [], False
    bar = tqdm(range(1, epochs + 1), desc="head", unit="epoch", file=sys.stderr,
               disable=not progress, dynamic_ncols=True)
    # One CPU thread: so small a network gains nothing from more, and on a busy
    # machine waiting for a descheduled second thread made it 2-3x slower.
    # (torch's thread count is process-wide: torch_threads restores it after.)
    with torch_threads(1 if device.type == "cpu" else None):
        try:
            for epoch in bar:
                head.train()
                order = torch.randperm(len(xt), generator=gen).to(device)
                total = 0.0
                for start in range(0, len(order), batch_size):
                    idx = order[start:start + batch_size]
                    loss = F.cross_entropy(head(xt[idx]), yt[idx], weight=weights)
                    opt.zero_grad()
                    loss.backward()
                    opt.step()
                    total += loss.item() * len(idx)
                entry = {"epoch": epoch, "loss": total / len(xt)}
                if xv is not None:
                    head.eval()
                    with torch.inference_mode():
                        logits = head(xv)
                        entry["val_loss"] = float(F.cross_entropy(logits, yv, weight=weights))
                        probs = torch.softmax(logits, 1).cpu().numpy()
                    files = clips_scores(probs, val_groups, len(y_val_files), normalise=True)
                    entry["val_accuracy"] = float(np.mean(files.argmax(1) == y_val_files))
                    key = (entry["val_accuracy"], -entry["val_loss"])
                else:
                    key = (epoch,)
                history.append(entry)
                if best_key is None or key > best_key:
                    best_key, best_epoch = key, epoch
                    best = {k: v.detach().clone() for k, v in head.state_dict().items()}
                bar.set_postfix(loss=f"{entry['loss']:.3f}", best=best_epoch,
                                **({"val_acc": f"{entry['val_accuracy']:.1%}"}
                                   if "val_accuracy" in entry else {}))
                if on_epoch:
                    on_epoch(entry)
                if xv is not None and epoch - best_epoch >= patience:
                    break
        except KeyboardInterrupt:
            interrupted = True
        finally:
            bar.close()
    if best is not None:
        head.load_state_dict(best)
    return head.cpu().eval(), best_epoch, history, interrupted


def train_head(*, data, out, train_items, val_items, seed, device, duration_s, epochs,
               batch_size, cache_root, progress, on_epoch, hidden, val_split) -> TrainResult:
    labels = sorted({i.label for i in train_items})
    hp = dict(HEAD_DEFAULTS)
    hp["epochs"] = epochs or hp["epochs"]
    hp["batch_size"] = batch_size or hp["batch_size"]
    hp["hidden"] = hp["hidden"] if hidden is None else hidden
    base, arrays, kept, skipped, cache = base_embeddings(
        train_items + val_items, device, duration_s, cache_root, progress)
    split = split_arrays(arrays, kept, train_items, labels)
    train_kept, val_kept = split.train_kept, split.val_kept
    x_tr, y_tr, x_val, val_groups, y_val_files = (
        split.x_tr, split.y_tr, split.x_val, split.val_groups, split.y_val_files)
    result = TrainResult(out, "head", labels, cache=cache.stats(), skipped=skipped)
    head, best_epoch, history, interrupted = fit_head(
        x_tr, y_tr, x_val, y_val_files, val_groups, len(labels), hidden=hp["hidden"],
        dropout=hp["dropout"], epochs=hp["epochs"], batch_size=hp["batch_size"], lr=hp["lr"],
        weight_decay=hp["weight_decay"], patience=hp["patience"], seed=seed, device=device,
        progress=progress, on_epoch=on_epoch)
    result.history, result.best_epoch, result.epochs_done = history, best_epoch, len(history)
    result.interrupted = interrupted
    if not history:
        return result
    best = history[best_epoch - 1]
    base_config = base.config
    config = {
        "architecture": "embedding_head",
        "display_name": f"Head on {BASE_NAME} embeddings ({len(labels)} genres, "
                        f"trained on {Path(data).name})",
        "base": list(BASE_MODEL),
        "representation": base_config.representation,
        "input_level": INPUT_LEVEL,
        "labels": labels,
        "output": "softmax",
        "head": {"input_dim": int(x_tr.shape[1]), "hidden": [hp["hidden"]] if hp["hidden"] else [],
                 "dropout": hp["dropout"], "inputs": "per-patch embeddings of the base model"},
        "metrics": {"best_epoch": best_epoch,
                    **({"val_accuracy": best["val_accuracy"], "val_loss": best["val_loss"]}
                       if "val_accuracy" in best else {"train_loss": best["loss"]})},
        "training": training_info(
            "head", data, train_kept, val_kept, seed=seed, val_split=val_split,
            duration_s=duration_s, epochs=hp["epochs"], epochs_run=len(history),
            batch_size=hp["batch_size"], optimizer=f"AdamW lr {hp['lr']} weight decay "
            f"{hp['weight_decay']}", early_stopping_patience=hp["patience"],
            train_patches=int(len(x_tr)), interrupted=interrupted),
    }
    write_bundle(out, config, head.state_dict())
    if val_kept and not interrupted:
        result.report = final_report(out, val_kept, duration_s, device, labels, progress)
    return result

