"""Measure a model on labelled files: accuracy, macro-F1, top-k, confusion.

A dataset's labels rarely equal a model's. A *label map* says which model
labels count as each dataset label::

    {"hiphop": ["hip_hop"], "classical": ["classical", "opera", "choral"],
     "reggae": []}

A file is correct when the model's top label is in its label's set (an empty
set: the model has no such genre, the file always counts as wrong). For the
confusion matrix a prediction is mapped back to the dataset label whose set
holds it (the true label first, then the first in label order), or to
``(other)`` when no set does.

>>> from genrescope import Classifier
>>> from genrescope.dataset import list_labelled
>>> report = evaluate(Classifier.load(), list_labelled("gtzan"),
...                   label_map=load_label_map("maps/gtzan_to_musicnn_genres.json"))  # doctest: +SKIP
>>> print(report.table())                                          # doctest: +SKIP
"""

from __future__ import annotations

import json
import os
import sys
import textwrap
from dataclasses import asdict, dataclass, field
from pathlib import Path

import numpy as np
from sklearn.metrics import confusion_matrix, precision_recall_fscore_support

from .calibration import Reliability, reliability, reliability_figure
from .dataset import LabelledFile
from .errors import GenrescopeError
from .files import save_figure, write_text_atomically
from .overlap import Overlap, training_overlap

OTHER = "(other)"


@dataclass
class FileResult:
    """What the model said about one file.

    ``predicted`` is a dataset label (or ``(other)``), ``model_label`` the
    model's own top label, ``top`` the model's top-k ``[label, probability]``.
    """

    file: str
    label: str
    predicted: str
    model_label: str
    probability: float
    top: list
    correct: bool
    top_k_correct: bool


@dataclass
class EvaluationReport:
    """Figures of one evaluation run; :meth:`table` and :meth:`save` present them.

    Attributes
    ----------
    model : str
    labels : list of str
        Dataset labels: rows of ``confusion``, rows of ``per_class``.
    accuracy, macro_f1, top_k_accuracy : float
        Over the files that could be classified; macro-F1 averages ``labels``.
    top_k : int
    per_class : list of dict
        ``label``, ``precision``, ``recall``, ``f1``, ``support`` per dataset label.
    confusion : np.ndarray
        (n_labels, n_columns) counts: true label x predicted dataset label.
    columns : list of str
        Column labels of ``confusion``: ``labels``, plus ``(other)`` when used.
    files : list of FileResult
    failed : list of dict
        ``file``, ``label``, ``error`` of files that could not be classified.
    label_map : dict or None
    duration_s : float or None
    reliability : Reliability or None
        Calibration of the top-1 probabilities (``reliability.ece``: expected
        calibration error over 10 bins), see :mod:`genrescope.calibration`.
    overlap : Overlap or None
        Evaluated files that were the model's training files (when its
        bundle records them), see :mod:`genrescope.overlap`.
    """

    model: str
    labels: list
    accuracy: float
    macro_f1: float
    top_k_accuracy: float
    top_k: int
    per_class: list
    confusion: np.ndarray
    columns: list
    files: list = field(default_factory=list)
    failed: list = field(default_factory=list)
    label_map: dict | None = None
    duration_s: float | None = None
    reliability: Reliability | None = None
    overlap: Overlap | None = None

    def __post_init__(self):
        if self.reliability is None and self.files:
            self.reliability = reliability([r.probability for r in self.files],
                                           [r.correct for r in self.files])

    @property
    def ece(self) -> float | None:
        """Expected calibration error of the top-1 probabilities (10 bins)."""
        return self.reliability.ece if self.reliability else None

    def table(self) -> str:
        """The summary as printed: headline figures and the per-class table."""
        width = max([len(x) for x in self.labels] + [5])
        caution = self.overlap.warning(self.model) if self.overlap else None
        lines = [*textwrap.wrap(caution, 78), ""] if caution else []
        lines += [f"model {self.model}: {len(self.files)} files"
                 + (f", {len(self.failed)} failed" if self.failed else ""),
                 f"  accuracy        {self.accuracy:6.1%}",
                 f"  macro-F1        {self.macro_f1:6.3f}",
                 f"  top-{self.top_k} accuracy  {self.top_k_accuracy:6.1%}"]
        if self.ece is not None:
            lines.append(f"  ECE (10 bins)   {self.ece:6.3f}")
        lines += ["",
                 f"  {'label':<{width}}  precision  recall     F1  support"]
        for row in self.per_class:
            lines.append(f"  {row['label']:<{width}}  {row['precision']:9.3f}  "
                         f"{row['recall']:6.3f}  {row['f1']:5.3f}  {row['support']:7d}")
        lines += [f"  failed: {f['file']}: {f['error']}" for f in self.failed]
        return "\n".join(lines) + "\n"

    def files_table(self) -> str:
        """One line per file: true label, verdict, the model's top-k labels."""
        lines = []
        for r in self.files:
            top = ", ".join(f"{label} {p:.0%}" for label, p in r.top)
            mark = "ok " if r.correct else "top" if r.top_k_correct else "-- "
            lines.append(f"  {mark} {r.label:<10} -> {r.predicted:<10} [{top}]  "
                         f"{os.path.basename(r.file)}")
        return "\n".join(lines) + "\n"

    def to_dict(self) -> dict:
        return {"model": self.model, "duration_s": self.duration_s,
                "n_files": len(self.files), "n_failed": len(self.failed),
                "accuracy": self.accuracy, "macro_f1": self.macro_f1,
                "top_k": self.top_k, "top_k_accuracy": self.top_k_accuracy,
                "per_class": self.per_class,
                "confusion": {"rows": self.labels, "columns": self.columns,
                              "counts": np.asarray(self.confusion).tolist()},
                "label_map": self.label_map,
                "ece": self.ece,
                "reliability": self.reliability.to_dict() if self.reliability else None,
                "training_overlap": self.overlap.to_dict() if self.overlap else None,
                "files": [asdict(r) for r in self.files], "failed": self.failed}

    def save(self, folder: str | os.PathLike) -> tuple[Path, Path]:
        """Write ``report.json``, ``confusion.png`` and (when there are files)
        ``reliability.png``, the reliability diagram, into ``folder``.

        Returns
        -------
        json_path, png_path : Path
            The report and the confusion matrix.
        """
        folder = Path(folder)
        folder.mkdir(parents=True, exist_ok=True)
        json_path, png_path = folder / "report.json", folder / "confusion.png"
        write_text_atomically(json_path,
                              json.dumps(self.to_dict(), ensure_ascii=False, indent=2) + "\n")
        save_figure(confusion_figure(self), png_path, dpi=120)
        if self.reliability is not None:
            save_figure(reliability_figure(self.reliability, self.model),
                        folder / "reliability.png", dpi=120)
        return json_path, png_path


def load_label_map(path: str | os.PathLike) -> dict[str, list[str]]:
    """Read a label map: JSON object, dataset label -> model label or list of them."""
    try:
        raw = json.loads(Path(path).read_text(encoding="utf-8"))
    except FileNotFoundError:
        raise GenrescopeError(f"No such label map: {path}", status=404) from None
    except (OSError, ValueError) as exc:
        raise GenrescopeError(f"Could not read the label map {path}: {exc}") from exc
    if not isinstance(raw, dict):
        raise GenrescopeError(f"{path}: a label map is a JSON object "
                              '{"dataset label": ["model label", ...]}.')
    out = {}
    for label, targets in raw.items():
        targets = [targets] if isinstance(targets, str) else targets
        if not isinstance(targets, list) or not all(isinstance(t, str) for t in targets):
            raise GenrescopeError(f"{path}: {label!r} must map to a list of model labels.")
        out[label] = targets
    return out


def metrics(y_true: list[str], y_pred: list[str], labels: list[str]) -> dict:
    """Accuracy, macro-F1, per-class table and confusion matrix.

    Parameters
    ----------
    y_true, y_pred : list of str
        True and predicted dataset labels; predictions outside ``labels``
        count as wrong and land in an ``(other)`` column.
    labels : list of str
        Dataset labels, in the order of the table and the matrix rows.

    Returns
    -------
    dict
        ``accuracy``, ``macro_f1``, ``per_class``, ``confusion``, ``columns``.
    """
    if not y_true:
        raise GenrescopeError("No file could be classified, so there is nothing to measure.")
    y_pred = [p if p in labels else OTHER for p in y_pred]
    columns = list(labels) + [OTHER]
    counts = confusion_matrix(y_true, y_pred, labels=columns)[:len(labels)]
    if not counts[:, -1].any():
        counts, columns = counts[:, :-1], columns[:-1]
    precision, recall, f1, support = precision_recall_fscore_support(
        y_true, y_pred, labels=labels, zero_division=0)
    per_class = [{"label": lab, "precision": float(p), "recall": float(r), "f1": float(f),
                  "support": int(s)} for lab, p, r, f, s in zip(labels, precision, recall, f1,
                                                                 support)]
    return {"accuracy": float(np.mean(np.array(y_true) == np.array(y_pred))),
            "macro_f1": float(np.mean(f1)), "per_class": per_class,
            "confusion": counts, "columns": columns}


def evaluate(classifier, items: list[LabelledFile], label_map: dict | None = None, *,
             top_k: int = 3, duration_s: float | None = 30.0,
             progress: bool = True) -> EvaluationReport:
    """Classify every file and compare with its label.

    Parameters
    ----------
    classifier : Classifier
    items : list of LabelledFile
        From :func:`genrescope.dataset.list_labelled`.
    label_map : dict, optional
        Dataset label -> list of model labels. Without one, every dataset
        label must be a model label.
    top_k : int
        A file is a top-k hit when any of the model's ``top_k`` labels is in
        its label's set.
    duration_s : float or None
        Seconds analysed from the start of each file (``None``: all).
    progress : bool
        Show a progress bar on stderr.

    Returns
    -------
    EvaluationReport
        Files that fail to decode are listed in ``failed`` and left out of
        the figures.
    """
    labels = sorted({item.label for item in items})
    if not labels:
        raise GenrescopeError("There are no labelled files to evaluate.")
    targets = _check_map(labels, label_map, [g.id for g in classifier.genres])
    from tqdm import tqdm

    results, failed, precisions = [], [], set()
    for item in tqdm(items, unit="file", disable=not progress, file=sys.stderr, leave=False):
        try:
            pred = classifier.classify(item.path, duration_s=duration_s, top_k=top_k)
        except GenrescopeError as exc:
            failed.append({"file": str(item.path), "label": item.label, "error": str(exc)})
            continue
        precisions.add(pred.precision)
        top = [[g.label, round(g.probability, 6)] for g in pred.top]
        results.append(file_result(item.path, item.label, top, targets))
    ran = sorted(precisions - {"fp32"})                   # say so when not float32
    report = build_report(classifier.name + (f" ({', '.join(ran)})" if ran else ""), labels,
                          results, failed, top_k, label_map=label_map, duration_s=duration_s)
    training = classifier.model.config.training or {}          # what the bundle recorded
    report.overlap = training_overlap([item.path for item in items],
                                      training.get("fingerprints"))
    return report


def file_result(file, label: str, top: list, targets: dict[str, list[str]]) -> FileResult:
    """One file's :class:`FileResult` from the model's top-k ``[label,
    probability]`` (best first); ``targets``: each dataset label's model labels."""
    best = top[0][0]
    return FileResult(
        file=str(file), label=label, predicted=_back(best, label, targets),
        model_label=best, probability=top[0][1], top=top, correct=best in targets[label],
        top_k_correct=any(lab in targets[label] for lab, _ in top))


def build_report(model: str, labels: list[str], results: list[FileResult], failed: list,
                 top_k: int, *, label_map: dict | None = None,
                 duration_s: float | None = None) -> EvaluationReport:
    """The :class:`EvaluationReport` (:func:`metrics`, top-k accuracy) of
    per-file results; :func:`evaluate` and cross-validation both report so."""
    m = metrics([r.label for r in results], [r.predicted for r in results], labels)
    return EvaluationReport(
        model=model, labels=labels, accuracy=m["accuracy"], macro_f1=m["macro_f1"],
        top_k_accuracy=float(np.mean([r.top_k_correct for r in results])), top_k=top_k,
        per_class=m["per_class"], confusion=m["confusion"], columns=m["columns"],
        files=results, failed=failed, label_map=label_map, duration_s=duration_s)


def confusion_figure(report: EvaluationReport):
    """The confusion matrix as a figure: colour = share of the row, text = count.

    Returns
    -------
    matplotlib.figure.Figure
    """
    from matplotlib.figure import Figure

    counts = np.asarray(report.confusion)
    share = counts / np.maximum(counts.sum(axis=1, keepdims=True), 1)
    n_rows, n_cols = counts.shape
    fig = Figure(figsize=(2.5 + 0.55 * n_cols, 2.0 + 0.5 * n_rows), layout="constrained")
    ax = fig.subplots()
    image = ax.imshow(share, cmap="Blues", vmin=0, vmax=1)
    ax.set_xticks(range(n_cols), report.columns, rotation=45, ha="right")
    ax.set_yticks(range(n_rows), report.labels)
    ax.set_xlabel("predicted")
    ax.set_ylabel("true")
    for i in range(n_rows):
        for j in range(n_cols):
            if counts[i, j]:
                ax.text(j, i, str(counts[i, j]), ha="center", va="center", fontsize=9,
                        color="white" if share[i, j] > 0.5 else "black")
    ax.set_title(f"{report.model}: accuracy {report.accuracy:.1%}, "
                 f"macro-F1 {report.macro_f1:.3f}", fontsize=10)
    fig.colorbar(image, ax=ax, shrink=0.8, label="share of the true label's files")
    return fig


def _check_map(labels: list[str], label_map: dict | None,
               model_labels: list[str]) -> dict[str, list[str]]:
    """Each dataset label's set of model labels; clear errors for gaps and typos."""
    if label_map is None:
        unknown = [lab for lab in labels if lab not in model_labels]
        if unknown:
            raise GenrescopeError(
                f"Dataset labels not known to the model: {', '.join(unknown)}. Give a label "
                f"map (--map FILE) onto the model's labels: {', '.join(model_labels)}.")
        return {lab: [lab] for lab in labels}
    missing = [lab for lab in labels if lab not in label_map]
    if missing:
        raise GenrescopeError(
            f"The label map has no entry for: {', '.join(missing)}. Add them (an empty list "
            "means the model has no such genre and those files count as wrong).")
    unknown = sorted({t for lab in labels for t in label_map[lab] if t not in model_labels})
    if unknown:
        raise GenrescopeError(
            f"The label map names labels the model does not have: {', '.join(unknown)}. "
            f"The model's labels: {', '.join(model_labels)}.")
    return {lab: list(label_map[lab]) for lab in labels}


def _back(model_label: str, true_label: str, targets: dict[str, list[str]]) -> str:
    """The dataset label a model label stands for (the true one when it fits)."""
    if model_label in targets[true_label]:
        return true_label
    return next((lab for lab, ts in targets.items() if model_label in ts), OTHER)
