"""Train a genre model on your own labelled music; the result is a model bundle.

>>> from genrescope.train import train
>>> result = train("my_music", "models/my_genres")              # doctest: +SKIP
>>> print(result.report.table())                                 # doctest: +SKIP
>>> Classifier.load("models/my_genres").classify("song.mp3")     # doctest: +SKIP

Two methods:

``head`` (default)
    A small classifier on the per-patch embeddings (400-d, one per 3 s patch)
    of the default model ``musicnn_genres``, which stays frozen. Each patch of
    a training file is one example; at inference the
    :class:`~genrescope.predict.Classifier` averages the per-patch softmax, as
    the validation here does, so training and use see the same inputs.
    Embeddings are cached on disk, so a second run only trains the head
    (seconds). Minutes on a CPU.
``cnn``
    The ccmusic-database recipe: a VGG with batch norm on CQT (or mel)
    images of 11.4 s chunks, every chunk of a training file an example, SGD
    (lr 0.001, momentum 0.9), ``ReduceLROnPlateau(factor=0.1, patience=5)``
    on the validation loss, class-weighted cross-entropy. From scratch, or
    fine-tuned from ``init`` (an official ``save.pt`` or a genrescope
    bundle; with other labels its last linear layer is replaced). Images are
    cached; ``DIR/checkpoint.pt`` lets an interrupted run resume.

Both split by song (never by chunk; files of one song on one side), per
genre, reproducibly (:func:`genrescope.dataset.grouped_split`), keep the best validation
epoch as ``DIR/model.safetensors`` + ``DIR/config.json``, and end with
:func:`genrescope.evaluate.evaluate` of the saved bundle on the validation
files (``DIR/report.json``, ``DIR/confusion.png``).
"""

from __future__ import annotations

import hashlib
import json
import os
import sys
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Callable

import numpy as np
import torch
import torch.nn.functional as F
from torch import nn

from .cache import cache_dir
from .dataset import LabelledFile, grouped_folds, grouped_split, list_labelled
from .errors import GenrescopeError
from .evaluate import EvaluationReport, FileResult, evaluate, metrics
from .features import ImageSpec, image_features
from .files import replaced_atomically, write_text_atomically

BASE_MODEL = "musicnn_genres"
CHECKPOINT = "checkpoint.pt"
CHECKPOINT_FORMAT = "genrescope-train-1"
CACHE_VERSION = 1

#: Defaults of the two methods (``None`` arguments of :func:`train` take these).
HEAD_DEFAULTS = {"epochs": 300, "batch_size": 64, "lr": 1e-3, "weight_decay": 1e-3,
                 "hidden": 256, "dropout": 0.5, "patience": 40}
CNN_DEFAULTS = {"arch": "vgg19_bn", "representation": "cqt", "epochs": 40, "batch_size": 8,
                "lr": 1e-3, "momentum": 0.9, "plateau_factor": 0.1, "plateau_patience": 5}


@dataclass
class TrainResult:
    """What :func:`train` did.

    Attributes
    ----------
    out : Path
        The model bundle (``config.json``, ``model.safetensors``).
    method : {"head", "cnn"}
    labels : list of str
    best_epoch : int or None
        Epoch whose weights were kept (1-based).
    epochs_done : int
        Epochs completed in total (including those of a resumed run).
    start_epoch : int
        First epoch run by this call (> 1 when it resumed).
    history : list of dict
        Per epoch: ``epoch``, ``loss``, ``val_loss``, ``val_accuracy``, ``lr``.
    report : EvaluationReport or None
        The saved bundle on the validation files (``None`` without a
        validation set or when interrupted).
    interrupted : bool
        Ctrl-C stopped training; the bundle holds the best epoch so far.
    cache : dict
        ``dir``, ``hits``, ``misses`` of the feature cache.
    skipped : list of dict
        ``file``, ``error`` of files that could not be decoded (left out).
    """

    out: Path
    method: str
    labels: list
    best_epoch: int | None = None
    epochs_done: int = 0
    start_epoch: int = 1
    history: list = field(default_factory=list)
    report: EvaluationReport | None = None
    interrupted: bool = False
    cache: dict = field(default_factory=dict)
    skipped: list = field(default_factory=list)

    @property
    def has_bundle(self) -> bool:
        return (self.out / "config.json").is_file() and (self.out / "model.safetensors").is_file()


# --------------------------------------------------------------------------- #
# feature cache
# --------------------------------------------------------------------------- #
class FeatureCache:
    """``.npy`` files keyed by a file's absolute path, size and modification
    time, the analysed duration and what was computed (``params``).

    Parameters
    ----------
    root : Path
        Cache folder (see :func:`cache_dir`).
    kind : str
        Sub-folder (``embeddings`` or ``images``).
    params : dict
        Everything the computation depends on besides the file.
    """

    def __init__(self, root: Path, kind: str, params: dict):
        self.folder = Path(root) / kind
        self.params = json.dumps({"v": CACHE_VERSION, **params}, sort_keys=True, default=str)
        self.hits = 0
        self.misses = 0

    def path_for(self, path: Path, duration_s: float | None) -> Path:
        st = Path(path).stat()
        key = json.dumps([str(Path(path).resolve()), st.st_size, st.st_mtime_ns, duration_s,
                          self.params])
        return self.folder / f"{hashlib.sha256(key.encode()).hexdigest()[:40]}.npy"

    def get(self, path: Path, duration_s: float | None,
            compute: Callable[[], np.ndarray]) -> np.ndarray:
        """The cached array, or ``compute()`` stored for next time."""
        target = self.path_for(path, duration_s)
        if target.is_file():
            try:
                value = np.load(target, allow_pickle=False)
                self.hits += 1
                return value
            except (OSError, ValueError):
                pass                                  # damaged: compute it again
        value = compute()
        self.misses += 1
        with replaced_atomically(target) as tmp:
            np.save(tmp, value, allow_pickle=False)
        return value

    def stats(self) -> dict:
        return {"dir": str(self.folder), "hits": self.hits, "misses": self.misses}


def _extract(items: list[LabelledFile], cache: FeatureCache, compute: Callable,
             duration_s: float | None, progress: bool, desc: str):
    """Features of every file (cached); files that fail are reported and left out."""
    from tqdm import tqdm

    arrays, kept, skipped = [], [], []
    bar = tqdm(items, desc=desc, unit="file", file=sys.stderr, disable=not progress,
               dynamic_ncols=True)
    try:
        for item in bar:
            try:
                arrays.append(cache.get(item.path, duration_s, lambda: compute(item.path)))
                kept.append(item)
            except GenrescopeError as exc:
                skipped.append({"file": str(item.path), "label": item.label, "error": str(exc)})
                bar.write(f"genrescope: skipped {item.path}: {exc}", file=sys.stderr)
    except KeyboardInterrupt:
        bar.close()
        print(f"genrescope: features of {cache.hits + cache.misses} files are cached in "
              f"{cache.folder}; the next run starts from there.", file=sys.stderr)
        raise
    return arrays, kept, skipped


# --------------------------------------------------------------------------- #
# shared pieces
# --------------------------------------------------------------------------- #
def _device(device: str | None) -> torch.device:
    if device is None:
        return torch.device("cuda" if torch.cuda.is_available() else "cpu")
    if device.startswith("cuda") and not torch.cuda.is_available():
        raise GenrescopeError("--device cuda was asked for, but torch sees no CUDA GPU.")
    return torch.device(device)


def _split(items: list[LabelledFile], val_split: float, seed: int):
    labels = sorted({i.label for i in items})
    if len(labels) < 2:
        raise GenrescopeError(f"Training needs at least two genres; found {len(labels)} "
                              f"({', '.join(labels)}).")
    if not val_split:
        return list(items), []
    train_items, val_items = grouped_split(items, val_split, seed)
    lonely = sorted({i.label for i in train_items} ^ set(labels))
    if lonely:
        raise GenrescopeError(f"Genres with no training file: {', '.join(lonely)}.")
    return train_items, val_items


def class_weights(y: np.ndarray, n_labels: int) -> torch.Tensor:
    """``n / (n_labels * count)`` per label: each genre weighs the same in the loss."""
    counts = np.bincount(y, minlength=n_labels).astype(np.float64)
    missing = np.flatnonzero(counts == 0)
    if len(missing):
        raise GenrescopeError("Some genres have no training example left (all their files "
                              "failed to decode?).")
    return torch.tensor(len(y) / (n_labels * counts), dtype=torch.float32)


def file_probabilities(chunk_probs: np.ndarray, groups: np.ndarray, n_files: int) -> np.ndarray:
    """Mean of the chunk probabilities of each file, as the Classifier computes it."""
    sums = np.zeros((n_files, chunk_probs.shape[1]), dtype=np.float64)
    np.add.at(sums, groups, chunk_probs)
    return sums / np.bincount(groups, minlength=n_files)[:, None]


def _stack(arrays: list[np.ndarray], items: list[LabelledFile], labels: list[str]):
    """Concatenate per-file arrays; label and file index of every row."""
    if not arrays:
        return None, np.zeros(0, np.int64), np.zeros(0, np.int64)
    x = np.concatenate(arrays)
    y = np.concatenate([np.full(len(a), labels.index(i.label)) for a, i in zip(arrays, items)])
    g = np.concatenate([np.full(len(a), k) for k, a in enumerate(arrays)])
    return x, y.astype(np.int64), g.astype(np.int64)


@dataclass
class _Split:
    """Training chunks and validation chunks (with their file index) of the
    files that could be decoded, and one label per validation file."""

    train_kept: list
    val_kept: list
    x_tr: np.ndarray
    y_tr: np.ndarray
    x_val: np.ndarray | None
    y_val_chunks: np.ndarray | None
    val_groups: np.ndarray | None
    y_val_files: np.ndarray


def _split_arrays(arrays, kept, train_items, labels) -> _Split:
    """Per-file arrays, training files first as extracted -> :class:`_Split`."""
    n_train = sum(1 for i in kept if i in set(train_items))
    train_kept, val_kept = kept[:n_train], kept[n_train:]
    x_tr, y_tr, _ = _stack(arrays[:n_train], train_kept, labels)
    if x_tr is None:
        raise GenrescopeError("No training file could be decoded.")
    x_val, y_val_chunks, val_groups = _stack(arrays[n_train:], val_kept, labels)
    y_val_files = np.array([labels.index(i.label) for i in val_kept], dtype=np.int64)
    return _Split(train_kept, val_kept, x_tr, y_tr, x_val, y_val_chunks, val_groups, y_val_files)


def _write_bundle(out: Path, config: dict, state: dict[str, torch.Tensor]) -> None:
    """``model.safetensors`` then ``config.json``, each replaced atomically."""
    from safetensors.torch import save

    with replaced_atomically(out / "model.safetensors") as tmp:
        tmp.write_bytes(save({k: v.detach().cpu().contiguous() for k, v in state.items()}))
    _write_json(out / "config.json", config)


def _write_json(path: Path, data: dict) -> None:
    write_text_atomically(path, json.dumps(data, ensure_ascii=False, indent=2) + "\n")


def _training_info(method: str, data, train_items, val_items, **extra) -> dict:
    from . import __version__

    return {"method": method, "data": str(Path(data).expanduser().resolve()),
            "train_files": len(train_items), "val_files": len(val_items),
            "genrescope": __version__,
            "date": time.strftime("%Y-%m-%dT%H:%M:%S%z"), **extra}


def _final_report(out: Path, val_items, duration_s, device, labels, progress):
    """Evaluate the saved bundle on the validation files, as a user would."""
    from .predict import Classifier

    clf = Classifier.load(out, device=str(device))
    report = evaluate(clf, val_items, duration_s=duration_s,
                      top_k=min(3, max(1, len(labels) - 1)), progress=progress)
    report.save(out)
    config = json.loads((out / "config.json").read_text(encoding="utf-8"))
    config.setdefault("metrics", {}).update(
        {"val_accuracy": report.accuracy, "val_macro_f1": report.macro_f1,
         "val_files": len(report.files), "evaluated_with": "genrescope.evaluate",
         "precision": getattr(clf.model, "precision", "fp32")})
    _write_json(out / "config.json", config)
    return report


def _progress(progress: bool | None) -> bool:
    return sys.stderr.isatty() if progress is None else progress


# --------------------------------------------------------------------------- #
# entry point
# --------------------------------------------------------------------------- #
def train(data: str | os.PathLike, out: str | os.PathLike, *, method: str = "head",
          arch: str | None = None, init: str | os.PathLike | None = None,
          epochs: int | None = None, batch_size: int | None = None, val_split: float = 0.2,
          seed: int = 0, device: str | None = None, duration_s: float | None = 30.0,
          representation: str | None = None, hidden: int | None = None,
          cache: str | os.PathLike | None = None, models_dir: str | os.PathLike | None = None,
          image_spec: dict | None = None, progress: bool | None = None,
          on_epoch: Callable[[dict], None] | None = None) -> TrainResult:
    """Train a model on labelled files and write it as a bundle into ``out``.

    Parameters
    ----------
    data : str or PathLike
        A folder with one sub-folder per genre, a folder of
        ``<genre>.<id>.<ext>`` files, or a CSV with ``path,label``
        (:func:`genrescope.dataset.list_labelled`). Label names become the
        model's genre ids.
    out : str or PathLike
        Folder of the bundle (created). ``Classifier.load(out)`` and
        ``--model out`` use it.
    method : {"head", "cnn"}
    arch : str, optional
        cnn: VGG variant (default: that of ``init``, else ``vgg19_bn``).
    init : str or PathLike, optional
        cnn: checkpoint to start from (official ``save.pt``, its folder or
        name, or a genrescope bundle).
    epochs, batch_size : int, optional
        Default 300 / 64 (head, with early stopping) or 40 / 8 (cnn).
    val_split : float
        Share of each genre's files held out for validation (0: none; the
        last epoch is kept).
    seed : int
        Seeds the split, the initial weights and the batch order.
    device : {"cpu", "cuda"}, optional
        Default: CUDA when torch sees a GPU.
    duration_s : float or None
        Seconds read from the start of each file (default 30, as
        ``classify``); ``None`` or 0: whole files.
    representation : {"cqt", "mel"}, optional
        cnn: image type (default: that of ``init``, else ``cqt``).
    hidden : int, optional
        head: width of the hidden layer (0: a linear classifier).
    cache : str or PathLike, optional
        Feature cache folder (default :func:`cache_dir`).
    models_dir : str or PathLike, optional
        Where ``init`` names are looked up.
    image_spec : dict, optional
        cnn: other :class:`~genrescope.features.ImageSpec` fields (e.g.
        ``{"input_size": 112}``), stored in the bundle.
    progress : bool, optional
        Progress bars on stderr (default: when stderr is a terminal).
    on_epoch : callable, optional
        Called with each epoch's history entry (after it is saved).

    Returns
    -------
    TrainResult

    Raises
    ------
    GenrescopeError
        Bad data or options, an unusable ``init``, a checkpoint in ``out``
        from another run.
    """
    if method not in ("head", "cnn"):
        raise GenrescopeError(f"--method must be head or cnn, not {method!r}.")
    if method == "head":
        given = [n for n, v in (("--arch", arch), ("--init", init),
                                ("--representation", representation), ("image_spec", image_spec))
                 if v]
        if given:
            raise GenrescopeError(f"{', '.join(given)} only apply to --method cnn; the head "
                                  f"trains on the embeddings of {BASE_MODEL}.")
    elif hidden is not None:
        raise GenrescopeError("--hidden only applies to --method head.")
    for name, value in (("--epochs", epochs), ("--batch-size", batch_size)):
        if value is not None and value < 1:
            raise GenrescopeError(f"{name} must be at least 1, got {value}.")
    out = Path(out).expanduser()
    items = list_labelled(data)
    train_items, val_items = _split(items, val_split, seed)
    progress = _progress(progress)
    duration_s = duration_s or None
    kwargs = dict(data=data, out=out, train_items=train_items, val_items=val_items, seed=seed,
                  device=_device(device), duration_s=duration_s, epochs=epochs,
                  batch_size=batch_size, cache_root=cache_dir(cache), progress=progress,
                  on_epoch=on_epoch)
    if method == "head":
        return _train_head(hidden=hidden, val_split=val_split, **kwargs)
    return _train_cnn(arch=arch, init=init, representation=representation,
                      image_spec=image_spec or {}, models_dir=models_dir,
                      val_split=val_split, **kwargs)


# --------------------------------------------------------------------------- #
# head on embeddings
# --------------------------------------------------------------------------- #
def _base_embeddings(items, device, duration_s, cache_root, progress, desc="embeddings"):
    """Per-patch embeddings (n_patches, D) of each file, through the cache."""
    from .models.registry import load_model, resolve
    from .predict import Classifier

    # float32, as EmbeddingHeadModel loads its base (no Classifier.load precision choice)
    clf = Classifier(load_model(resolve(BASE_MODEL), str(device)), str(device))
    cache = FeatureCache(cache_root, "embeddings",
                         {"model": BASE_MODEL, "representation": clf.model.config["representation"],
                          "components": clf.model.config.get("components")})

    def compute(path):
        audio = clf.load_audio(path, duration_s=duration_s)
        inputs = clf.model.features(audio.y).inputs.to(device)
        with torch.inference_mode():
            return clf.model.embed(inputs).float().cpu().numpy()

    arrays, kept, skipped = _extract(items, cache, compute, duration_s, progress, desc)
    return clf, arrays, kept, skipped, cache


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

    from .models.head import EmbeddingHead

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
    threads = torch.get_num_threads()
    if device.type == "cpu":
        torch.set_num_threads(1)
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
                files = file_probabilities(probs, val_groups, len(y_val_files))
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
        torch.set_num_threads(threads)
    if best is not None:
        head.load_state_dict(best)
    return head.cpu().eval(), best_epoch, history, interrupted


def _train_head(*, data, out, train_items, val_items, seed, device, duration_s, epochs,
                batch_size, cache_root, progress, on_epoch, hidden, val_split) -> TrainResult:
    labels = sorted({i.label for i in train_items})
    hp = dict(HEAD_DEFAULTS)
    hp["epochs"] = epochs or hp["epochs"]
    hp["batch_size"] = batch_size or hp["batch_size"]
    hp["hidden"] = hp["hidden"] if hidden is None else hidden
    base, arrays, kept, skipped, cache = _base_embeddings(
        train_items + val_items, device, duration_s, cache_root, progress)
    split = _split_arrays(arrays, kept, train_items, labels)
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
    base_config = base.model.config
    config = {
        "architecture": "embedding_head",
        "display_name": f"Head on {BASE_MODEL} embeddings ({len(labels)} genres, "
                        f"trained on {Path(data).name})",
        "base": BASE_MODEL,
        "representation": base_config["representation"],
        "labels": labels,
        "output": "softmax",
        "head": {"input_dim": int(x_tr.shape[1]), "hidden": [hp["hidden"]] if hp["hidden"] else [],
                 "dropout": hp["dropout"], "inputs": "per-patch embeddings of the base model"},
        "metrics": {"best_epoch": best_epoch,
                    **({"val_accuracy": best["val_accuracy"], "val_loss": best["val_loss"]}
                       if "val_accuracy" in best else {"train_loss": best["loss"]})},
        "training": _training_info(
            "head", data, train_kept, val_kept, seed=seed, val_split=val_split,
            duration_s=duration_s, epochs=hp["epochs"], epochs_run=len(history),
            batch_size=hp["batch_size"], optimizer=f"AdamW lr {hp['lr']} weight decay "
            f"{hp['weight_decay']}", early_stopping_patience=hp["patience"],
            train_patches=int(len(x_tr)), interrupted=interrupted),
    }
    _write_bundle(out, config, head.state_dict())
    if val_kept and not interrupted:
        result.report = _final_report(out, val_kept, duration_s, device, labels, progress)
    return result


# --------------------------------------------------------------------------- #
# cross-validation of the head
# --------------------------------------------------------------------------- #
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
    """

    k: int
    fold_accuracies: list
    report: EvaluationReport
    labels: list = field(default_factory=list)
    logits: list = field(default_factory=list)

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
                   progress: bool | None = None) -> CrossValidation:
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
    """
    items = data if isinstance(data, list) else list_labelled(data)
    labels = sorted({i.label for i in items})
    if len(labels) < 2:
        raise GenrescopeError("Cross-validation needs at least two genres.")
    progress = _progress(progress)
    dev = _device(device)
    hp = dict(HEAD_DEFAULTS)
    hp["epochs"] = epochs or hp["epochs"]
    hp["batch_size"] = batch_size or hp["batch_size"]
    hp["hidden"] = hp["hidden"] if hidden is None else hidden
    _, arrays, kept, skipped, _ = _base_embeddings(items, dev, duration_s or None,
                                                   cache_dir(cache), progress)
    by_file = {i: a for i, a in zip(kept, arrays)}
    folds = grouped_folds(kept, k, seed)
    results, fold_accs, held_logits = [], [], []
    for n, (rest, held) in enumerate(folds, 1):
        fit_items, stop_items = _split(rest, val_split, seed)
        x_tr, y_tr, _ = _stack([by_file[i] for i in fit_items], fit_items, labels)
        x_st, _, g_st = _stack([by_file[i] for i in stop_items], stop_items, labels)
        y_st = np.array([labels.index(i.label) for i in stop_items], dtype=np.int64)
        head, best_epoch, _, interrupted = fit_head(
            x_tr, y_tr, x_st, y_st, g_st, len(labels), hidden=hp["hidden"],
            dropout=hp["dropout"], epochs=hp["epochs"], batch_size=hp["batch_size"],
            lr=hp["lr"], weight_decay=hp["weight_decay"], patience=hp["patience"],
            seed=seed, device=dev, progress=False)
        if interrupted:
            raise KeyboardInterrupt
        x_h, _, g_h = _stack([by_file[i] for i in held], held, labels)
        with torch.inference_mode():
            logits = head(torch.from_numpy(x_h)).numpy()
        probs = torch.softmax(torch.from_numpy(logits), 1).numpy()
        held_logits += [logits[g_h == j] for j in range(len(held))]
        files = file_probabilities(probs, g_h, len(held))
        hits = 0
        for item, p in zip(held, files):
            order = np.argsort(-p, kind="stable")
            top = [[labels[j], round(float(p[j]), 6)] for j in order[:3]]
            results.append(FileResult(str(item.path), item.label, labels[order[0]],
                                      labels[order[0]], top[0][1], top,
                                      labels[order[0]] == item.label,
                                      item.label in [t[0] for t in top]))
            hits += labels[order[0]] == item.label
        fold_accs.append(hits / len(held))
        if progress:
            print(f"fold {n}/{k}: {hits}/{len(held)} correct (best epoch {best_epoch})",
                  file=sys.stderr)
    m = metrics([r.label for r in results], [r.predicted for r in results], labels)
    report = EvaluationReport(
        model=f"head on {BASE_MODEL}, {k}-fold CV", labels=labels, accuracy=m["accuracy"],
        macro_f1=m["macro_f1"], top_k_accuracy=float(np.mean([r.top_k_correct for r in results])),
        top_k=3, per_class=m["per_class"], confusion=m["confusion"], columns=m["columns"],
        files=results, failed=skipped, duration_s=duration_s or None)
    if out:
        report.save(out)
    return CrossValidation(k, fold_accs, report, labels, held_logits)


# --------------------------------------------------------------------------- #
# CNN on spectrogram images
# --------------------------------------------------------------------------- #
def to_uint8(inputs: torch.Tensor, spec: ImageSpec) -> np.ndarray:
    """Undo the normalisation of :func:`~genrescope.features.image_tensor`:
    the resized RGB pixels, exactly (they were integers)."""
    mean = torch.tensor(spec.mean).view(1, 3, 1, 1)
    std = torch.tensor(spec.std).view(1, 3, 1, 1)
    pixels = (inputs * std + mean) * 255.0
    return pixels.round().clamp(0, 255).to(torch.uint8).numpy()


def from_uint8(pixels: torch.Tensor, spec: ImageSpec) -> torch.Tensor:
    """The network input for cached pixels: the same operations as
    :func:`~genrescope.features.image_tensor`, so the same floats."""
    mean = torch.tensor(spec.mean, device=pixels.device).view(1, 3, 1, 1)
    std = torch.tensor(spec.std, device=pixels.device).view(1, 3, 1, 1)
    return (pixels.float().div_(255.0) - mean) / std


def head_widths(state: dict[str, torch.Tensor]) -> list[int]:
    """Output widths of ``classifier.1``, ``.4`` and ``.7`` of a VGG state_dict."""
    return [int(state[f"classifier.{i}.weight"].shape[0]) for i in (1, 4, 7)]


def build_vgg(arch: str, n_labels: int, widths: list[int] | None = None):
    """A :class:`~genrescope.models.vgg.VGG` whose ccmusic head has the hidden
    ``widths`` (default: those :func:`~genrescope.models.vgg.ccmusic_head`
    computes for ``n_labels``)."""
    from .models.vgg import FEATURES_OUT, VGG

    net = VGG(arch, n_labels)
    if widths and widths != default_widths(n_labels):
        l3, l2, l1 = widths
        net.classifier = nn.Sequential(
            nn.Dropout(), nn.Linear(FEATURES_OUT, l3), nn.ReLU(inplace=True),
            nn.Dropout(), nn.Linear(l3, l2), nn.ReLU(inplace=True),
            nn.Dropout(), nn.Linear(l2, l1), nn.ReLU(inplace=True),
            nn.Linear(l1, n_labels))
    return net


@dataclass
class InitCheckpoint:
    """A checkpoint to fine-tune from."""

    source: str
    state: dict
    arch: str
    labels: list | None
    representation: dict | None


def read_init(init: str | os.PathLike, arch: str | None = None,
              models_dir: str | os.PathLike | None = None) -> InitCheckpoint:
    """Read ``init``: an official ``save.pt`` (or its folder or name), a
    genrescope VGG bundle, or any VGG state_dict file (then ``arch`` is
    needed and 16 outputs are taken as the ccmusic genres)."""
    from .labels import CCMUSIC_GENRES
    from .models.checkpoint import read_state_dict
    from .models.registry import resolve
    from .models.vgg import PLANS

    path = Path(init).expanduser()
    try:
        entry = resolve(init, models_dir)
    except GenrescopeError:
        if not path.is_file():
            raise
        entry = None
    if entry is None:
        if not arch:
            raise GenrescopeError(f"{path} is a bare weights file: say which VGG it is "
                                  f"with --arch ({', '.join(PLANS)}).")
        state = read_state_dict(path)
        n = state.get("classifier.9.weight", torch.zeros(0, 0)).shape[0]
        labels = [g.id for g in CCMUSIC_GENRES] if n == len(CCMUSIC_GENRES) else None
        return InitCheckpoint(str(path), state, arch, labels, None)
    if not entry.available:
        raise GenrescopeError(entry.reason, status=404)
    found = entry.config["architecture"]
    if found not in PLANS:
        raise GenrescopeError(f"--init {init}: {entry.name} is a {found} model; only VGG "
                              f"checkpoints ({', '.join(PLANS)}) can be fine-tuned here.")
    return InitCheckpoint(str(entry.weights), read_state_dict(entry.weights), found,
                          list(entry.config["labels"]), entry.config.get("representation"))


def init_network(arch: str, labels: list[str], init: InitCheckpoint, seed: int = 0):
    """A VGG for ``labels`` with the weights of ``init``.

    Same labels: every tensor is loaded. The same labels in another order:
    the rows of the last layer are reordered. Other labels: everything but
    the last linear layer (``classifier.9``) is loaded and that layer is
    newly initialised for ``len(labels)`` outputs (the hidden widths of the
    checkpoint's head are kept).

    Returns
    -------
    net : VGG
    widths : list of int or None
        The head's hidden widths when they differ from the default for
        ``len(labels)`` (to be stored in the bundle's config).
    how : str
        What was done, for the log.
    """
    from .models.checkpoint import load_strict

    if arch != init.arch:
        raise GenrescopeError(f"--arch {arch} does not match --init {init.source}, "
                              f"a {init.arch}.")
    try:
        widths = head_widths(init.state)
    except KeyError as exc:
        raise GenrescopeError(f"{init.source} is not a VGG checkpoint with the ccmusic head "
                              f"(no {exc.args[0]}).") from None
    torch.manual_seed(seed)
    net = build_vgg(arch, len(labels), widths)
    state = dict(init.state)
    what = f"{arch} with a {'-'.join(map(str, widths))} head"
    if init.labels == labels:
        how = f"all weights from {init.source}"
    elif init.labels and sorted(init.labels) == sorted(labels):
        rows = torch.tensor([init.labels.index(lab) for lab in labels])
        for key in ("classifier.9.weight", "classifier.9.bias"):
            state[key] = state[key][rows]
        how = f"all weights from {init.source}, outputs reordered to the data's labels"
    else:
        own = net.state_dict()
        for key in ("classifier.9.weight", "classifier.9.bias"):
            if key not in state:
                raise GenrescopeError(f"{init.source} is not a VGG checkpoint with the "
                                      f"ccmusic head (no {key}).")
            state[key] = own[key]
        old = init.labels and len(init.labels) or int(init.state["classifier.9.weight"].shape[0])
        how = (f"weights from {init.source} except its last layer (classifier.9: {old} -> "
               f"{len(labels)} outputs, newly initialised)")
    load_strict(net, state, init.source, what=what)
    return net, (widths if widths != default_widths(len(labels)) else None), how


def default_widths(n_labels: int) -> list[int]:
    """Hidden widths of :func:`~genrescope.models.vgg.ccmusic_head` for ``n_labels``."""
    from .models.vgg import FEATURES_OUT, ccmusic_head

    with torch.device("meta"):                   # sizes only, no memory
        head = ccmusic_head(FEATURES_OUT, n_labels)
    return [head[i].out_features for i in (1, 4, 7)]


def _image_arrays(items, spec: ImageSpec, duration_s, cache_root, progress):
    """Network input pixels (n_chunks, 3, size, size) uint8 of each file, cached."""
    from .audio import load_audio

    cache = FeatureCache(cache_root, "images", {"spec": spec.to_dict()})

    def compute(path):
        audio = load_audio(path, spec.sr, duration_s=duration_s)
        return to_uint8(image_features(audio.y, spec).inputs, spec)

    arrays, kept, skipped = _extract(items, cache, compute, duration_s, progress, "images")
    return arrays, kept, skipped, cache


def _cnn_setup(arch, init, representation, image_spec, models_dir):
    """Architecture, image spec and init checkpoint from the options."""
    from .models.vgg import PLANS

    init_ck = read_init(init, arch, models_dir) if init else None
    arch = arch or (init_ck.arch if init_ck else CNN_DEFAULTS["arch"])
    if arch not in PLANS:
        raise GenrescopeError(f"--arch must be one of {', '.join(PLANS)}, not {arch!r}.")
    rep = dict(init_ck.representation or {}) if init_ck else {}
    if representation:
        if rep.get("type", representation) != representation:
            raise GenrescopeError(f"--init {init} was trained on {rep['type']} images; "
                                  f"fine-tune it on those (leave out --representation).")
        rep["type"] = representation
    rep.setdefault("type", CNN_DEFAULTS["representation"])
    rep.update(image_spec)
    try:
        spec = ImageSpec.from_dict(rep)
    except (TypeError, ValueError) as exc:
        raise GenrescopeError(f"Bad image representation {rep}: {exc}") from exc
    return arch, spec, init_ck


def _load_checkpoint(path: Path, run: dict) -> dict:
    """Read ``checkpoint.pt`` (tensors and plain values only) of the same run."""
    import pickle

    try:
        ck = torch.load(path, map_location="cpu", weights_only=True)
    except (pickle.UnpicklingError, RuntimeError, EOFError, OSError, ValueError) as exc:
        raise GenrescopeError(f"{path} is damaged or not a genrescope training checkpoint "
                              f"({exc.__class__.__name__}); delete it to start over.") from exc
    if not isinstance(ck, dict) or ck.get("format") != CHECKPOINT_FORMAT:
        raise GenrescopeError(f"{path} is not a genrescope training checkpoint; delete it or "
                              "choose another --out.")
    saved = json.loads(ck["run"])
    if saved != run:
        differ = sorted(k for k in set(saved) | set(run) if saved.get(k) != run.get(k))
        raise GenrescopeError(
            f"{path} belongs to another training run (it differs in: {', '.join(differ)}). "
            "Give the same data and options to resume it, or choose another --out (or delete "
            "the checkpoint) to start over.")
    return ck


def _save_checkpoint(path: Path, **values) -> None:
    with replaced_atomically(path) as tmp:
        torch.save({"format": CHECKPOINT_FORMAT, **values}, tmp)


def _train_cnn(*, data, out, train_items, val_items, seed, device, duration_s, epochs,
               batch_size, cache_root, progress, on_epoch, arch, init, representation,
               image_spec, models_dir, val_split) -> TrainResult:
    from tqdm import tqdm

    arch, spec, init_ck = _cnn_setup(arch, init, representation, image_spec, models_dir)
    hp = dict(CNN_DEFAULTS)
    epochs = epochs or hp["epochs"]
    batch_size = batch_size or hp["batch_size"]
    labels = sorted({i.label for i in train_items})
    arrays, kept, skipped, cache = _image_arrays(train_items + val_items, spec, duration_s,
                                                 cache_root, progress)
    split = _split_arrays(arrays, kept, train_items, labels)
    train_kept, val_kept = split.train_kept, split.val_kept
    x_tr, y_tr, x_val, y_val_chunks, val_groups, y_val_files = (
        split.x_tr, split.y_tr, split.x_val, split.y_val_chunks, split.val_groups,
        split.y_val_files)
    x_tr, y_tr_t = torch.from_numpy(x_tr), torch.from_numpy(y_tr)
    weights = class_weights(y_tr, len(labels)).to(device)

    if init_ck:
        net, widths, how = init_network(arch, labels, init_ck, seed)
    else:
        torch.manual_seed(seed)
        net, widths, how = build_vgg(arch, len(labels)), None, "from scratch (random weights)"
    net.to(device)
    opt = torch.optim.SGD(net.parameters(), lr=hp["lr"], momentum=hp["momentum"])
    sched = torch.optim.lr_scheduler.ReduceLROnPlateau(
        opt, mode="min", factor=hp["plateau_factor"], patience=hp["plateau_patience"])
    run = {"method": "cnn", "arch": arch, "labels": labels, "representation": spec.to_dict(),
           "head_widths": widths, "seed": seed, "duration_s": duration_s,
           "train_files": [str(i.path.resolve()) for i in train_kept],
           "val_files": [str(i.path.resolve()) for i in val_kept]}
    result = TrainResult(out, "cnn", labels, cache=cache.stats(), skipped=skipped)
    out.mkdir(parents=True, exist_ok=True)
    ckpt = out / CHECKPOINT
    best_key, history = None, []
    if ckpt.is_file():
        ck = _load_checkpoint(ckpt, run)
        net.load_state_dict(ck["model"])
        opt.load_state_dict(ck["optimizer"])
        sched.load_state_dict(ck["scheduler"])
        torch.set_rng_state(ck["rng"])
        history = json.loads(ck["history"])
        result.best_epoch = ck["best_epoch"] or None
        best_key = tuple(ck["best_key"]) if ck["best_key"] else None
        result.start_epoch = ck["epoch"] + 1
        how = f"resumed from {ckpt} after epoch {ck['epoch']}"
    log = (lambda msg: tqdm.write(msg, file=sys.stderr)) if progress else (lambda msg: None)
    log(f"{arch} on {spec.type} images, {len(labels)} genres, {len(x_tr)} training chunks "
        f"from {len(train_kept)} files, {len(val_kept)} validation files, {device}: {how}")

    def bundle_config(entry: dict) -> dict:
        config = {
            "architecture": arch,
            "display_name": f"{arch.upper()} on {spec.type.upper()} ({len(labels)} genres, "
                            f"trained on {Path(data).name})",
            "representation": spec.to_dict(),
            "labels": labels,
            "output": "softmax",
            "metrics": {"best_epoch": entry["epoch"],
                        **{k: entry[k] for k in ("val_accuracy", "val_loss", "loss")
                           if k in entry}},
            "training": _training_info(
                "cnn", data, train_kept, val_kept, seed=seed, val_split=val_split,
                duration_s=duration_s, init=init_ck.source if init_ck else None,
                batch_size=batch_size, epochs=epochs, train_chunks=int(len(x_tr)),
                optimizer=f"SGD lr {hp['lr']} momentum {hp['momentum']}, ReduceLROnPlateau "
                          f"factor {hp['plateau_factor']} patience {hp['plateau_patience']}"),
        }
        if widths:
            config["head_widths"] = widths
        return config

    n_files_val = len(val_kept)
    try:
        for epoch in range(result.start_epoch, epochs + 1):
            t0 = time.perf_counter()
            net.train()
            order = torch.randperm(len(x_tr), generator=torch.Generator().manual_seed(
                seed * 1_000_003 + epoch))
            total = 0.0
            bar = tqdm(range(0, len(order), batch_size), desc=f"epoch {epoch}/{epochs}",
                       unit="batch", leave=False, file=sys.stderr, disable=not progress,
                       dynamic_ncols=True)
            for start in bar:
                idx = order[start:start + batch_size]
                loss = F.cross_entropy(net(from_uint8(x_tr[idx].to(device), spec)),
                                       y_tr_t[idx].to(device), weight=weights)
                opt.zero_grad()
                loss.backward()
                opt.step()
                total += loss.item() * len(idx)
                bar.set_postfix(loss=f"{loss.item():.3f}")
            bar.close()
            entry = {"epoch": epoch, "loss": total / len(x_tr), "lr": opt.param_groups[0]["lr"]}
            if n_files_val:
                probs, val_loss = _cnn_predict(net, x_val, y_val_chunks, spec, weights,
                                               batch_size, device)
                files = file_probabilities(probs, val_groups, n_files_val)
                entry["val_loss"] = val_loss
                entry["val_accuracy"] = float(np.mean(files.argmax(1) == y_val_files))
                key = (entry["val_accuracy"], -val_loss)
            else:
                key = (epoch,)
            sched.step(entry.get("val_loss", entry["loss"]))
            entry["time_s"] = round(time.perf_counter() - t0, 2)
            history.append(entry)
            best = best_key is None or key > best_key
            if best:
                best_key, result.best_epoch = key, epoch
                _write_bundle(out, bundle_config(entry), net.state_dict())
            _save_checkpoint(ckpt, run=json.dumps(run), epoch=epoch, model=net.state_dict(),
                             optimizer=opt.state_dict(), scheduler=sched.state_dict(),
                             best_epoch=result.best_epoch or 0, best_key=list(best_key),
                             history=json.dumps(history), rng=torch.get_rng_state())
            log(f"epoch {epoch}/{epochs}  loss {entry['loss']:.4f}"
                + (f"  val loss {entry['val_loss']:.4f}  val acc {entry['val_accuracy']:.1%}"
                   if "val_loss" in entry else "")
                + f"  lr {entry['lr']:g}  {entry['time_s']:.0f} s" + ("  * saved" if best else ""))
            if on_epoch:
                on_epoch(entry)
    except KeyboardInterrupt:
        result.interrupted = True
    result.history = history
    result.epochs_done = len(history)
    if val_kept and not result.interrupted and result.has_bundle:
        result.report = _final_report(out, val_kept, duration_s, device, labels, progress)
    return result


def _cnn_predict(net, x: torch.Tensor | np.ndarray, y: np.ndarray, spec: ImageSpec,
                 weights: torch.Tensor, batch_size: int, device) -> tuple[np.ndarray, float]:
    """Softmax per chunk and the class-weighted loss, in evaluation mode."""
    net.eval()
    x = torch.as_tensor(x)
    probs, loss_sum, weight_sum = [], 0.0, 0.0
    with torch.inference_mode():
        for start in range(0, len(x), 2 * batch_size):
            logits = net(from_uint8(x[start:start + 2 * batch_size].to(device), spec))
            target = torch.from_numpy(y[start:start + 2 * batch_size]).to(device)
            loss_sum += float(F.cross_entropy(logits, target, weight=weights, reduction="sum"))
            weight_sum += float(weights[target].sum())
            probs.append(torch.softmax(logits.float(), 1).cpu().numpy())
    return np.concatenate(probs), loss_sum / weight_sum
