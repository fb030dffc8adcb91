"""What both training methods share: the feature cache, the split by song,
stacking per-file arrays into examples, writing the bundle and the final
report through :func:`genrescope.evaluate.evaluate`."""

from __future__ import annotations

import hashlib
import json
import sys
import time
from contextlib import contextmanager
from dataclasses import dataclass, field
from pathlib import Path
from typing import Callable

import numpy as np
import torch

from ..dataset import LabelledFile, grouped_split
from ..errors import GenrescopeError
from ..evaluate import EvaluationReport, evaluate
from ..files import replaced_atomically, write_text_atomically
from ..track import clips_scores

CACHE_VERSION = 1


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


def extract_features(items: list[LabelledFile], cache: FeatureCache, compute: Callable,
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



def torch_device(device: str | None) -> torch.device:
    if device is None:
        return torch.device("cuda" if torch.cuda.is_available() else "cpu")
    if device.startswith("cuda") and not torch.cuda.is_available():
        raise GenrescopeError("--device cuda was asked for, but torch sees no CUDA GPU.")
    return torch.device(device)


def split_files(items: list[LabelledFile], val_split: float, seed: int):
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


@contextmanager
def torch_threads(n: int | None):
    """torch's (process-wide) CPU thread count set to ``n`` inside the block
    and restored after it; ``None`` leaves it as it is."""
    before = torch.get_num_threads()
    if n:
        torch.set_num_threads(n)
    try:
        yield
    finally:
        torch.set_num_threads(before)


def class_weights(y: np.ndarray, n_labels: int) -> torch.Tensor:
    """``n / (n_labels * count)`` per label: each genre weighs the same in the loss."""
    counts = np.bincount(y, minlength=n_labels).astype(np.float64)
    missing = np.flatnonzero(counts == 0)
    if len(missing):
        raise GenrescopeError("Some genres have no training example left (all their files "
                              "failed to decode?).")
    return torch.tensor(len(y) / (n_labels * counts), dtype=torch.float32)


def head_clip_means(head, arrays: list[np.ndarray]) -> np.ndarray:
    """Per clip (one array of per-patch inputs each), the mean over its
    patches of ``head``'s softmax: (n_clips, n_outputs), pooled as the Classifier
    pools (:func:`genrescope.track.clips_scores`)."""
    groups = np.concatenate([np.full(len(a), k) for k, a in enumerate(arrays)])
    with torch.inference_mode():
        p = torch.softmax(head(torch.from_numpy(np.concatenate(arrays))), 1).numpy()
    return clips_scores(p, groups, len(arrays), normalise=True)


def stack(arrays: list[np.ndarray], items: list[LabelledFile], labels: list[str]):
    """Concatenate per-file arrays; label and file index of every row."""
    if not arrays:
        return None, np.zeros(0, np.int64), np.zeros(0, np.int64)
    x = np.concatenate(arrays)
    y = np.concatenate([np.full(len(a), labels.index(i.label)) for a, i in zip(arrays, items)])
    g = np.concatenate([np.full(len(a), k) for k, a in enumerate(arrays)])
    return x, y.astype(np.int64), g.astype(np.int64)


@dataclass
class Split:
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


def split_arrays(arrays, kept, train_items, labels) -> Split:
    """Per-file arrays, training files first as extracted -> :class:`Split`."""
    n_train = sum(1 for i in kept if i in set(train_items))
    train_kept, val_kept = kept[:n_train], kept[n_train:]
    x_tr, y_tr, _ = stack(arrays[:n_train], train_kept, labels)
    if x_tr is None:
        raise GenrescopeError("No training file could be decoded.")
    x_val, y_val_chunks, val_groups = stack(arrays[n_train:], val_kept, labels)
    y_val_files = np.array([labels.index(i.label) for i in val_kept], dtype=np.int64)
    return Split(train_kept, val_kept, x_tr, y_tr, x_val, y_val_chunks, val_groups, y_val_files)


def write_bundle(out: Path, config: dict, state: dict[str, torch.Tensor]) -> None:
    """``model.safetensors`` then ``config.json``, each replaced atomically."""
    from safetensors.torch import save

    with replaced_atomically(out / "model.safetensors") as tmp:
        tmp.write_bytes(save({k: v.detach().cpu().contiguous() for k, v in state.items()}))
    write_json(out / "config.json", config)


def write_json(path: Path, data: dict) -> None:
    write_text_atomically(path, json.dumps(data, ensure_ascii=False, indent=2) + "\n")


def training_info(method: str, data, train_items, val_items, **extra) -> dict:
    from .. import __version__

    return {"method": method, "data": str(Path(data).expanduser().resolve()),
            "train_files": len(train_items), "val_files": len(val_items),
            "genrescope": __version__,
            "date": time.strftime("%Y-%m-%dT%H:%M:%S%z"), **extra}


def final_report(out: Path, val_items, duration_s, device, labels, progress):
    """Evaluate the saved bundle on the validation files, as a user would."""
    from ..predict import Classifier

    clf = Classifier.load(out, device=str(device))
    report = evaluate(clf, val_items, duration_s=duration_s,
                      top_k=min(3, max(1, len(labels) - 1)), progress=progress)
    report.save(out)
    config = json.loads((out / "config.json").read_text(encoding="utf-8"))
    config.setdefault("metrics", {}).update(
        {"val_accuracy": report.accuracy, "val_macro_f1": report.macro_f1,
         "val_files": len(report.files), "evaluated_with": "genrescope.evaluate",
         "precision": getattr(clf.model, "precision", "fp32")})
    write_json(out / "config.json", config)
    return report


def want_progress(progress: bool | None) -> bool:
    return sys.stderr.isatty() if progress is None else progress

