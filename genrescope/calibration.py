"""Calibrated probabilities: temperature scaling, expected calibration error,
reliability diagrams and the "unsure" threshold that follows from them.

A model is *calibrated* when, of the answers it gives with probability 0.8,
about 80 % are right. The genre head's raw softmax is not: a small network
trained to a low loss is over-confident. Temperature scaling (Guo et al.
2017) divides every logit by one number ``T`` fitted on held-out data; the
ranking of genres does not change, only how sure the answer sounds.

The Classifier averages the per-patch softmax over a clip's patches, so
``T`` is fitted on that clip probability, not on single patches:

>>> import numpy as np
>>> logits = [np.array([[4.0, 0.0], [3.0, 1.0]]), np.array([[0.0, 2.0]])]
>>> clip_probabilities(logits, 1.0).round(3)
array([[0.931, 0.069],
       [0.119, 0.881]])
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

#: Bounds of the fitted temperature.
T_RANGE = (0.05, 20.0)


def _softmax(logits: np.ndarray) -> np.ndarray:
    z = logits - logits.max(axis=1, keepdims=True)
    e = np.exp(z)
    return e / e.sum(axis=1, keepdims=True)


def clip_probabilities(logits: list[np.ndarray], temperature: float = 1.0) -> np.ndarray:
    """Per clip, the mean over its patches of ``softmax(logits / temperature)``.

    Parameters
    ----------
    logits : list of np.ndarray
        One ``(n_patches, n_labels)`` array per clip.
    temperature : float

    Returns
    -------
    np.ndarray
        ``(n_clips, n_labels)``.
    """
    return np.stack([_softmax(np.asarray(l, np.float64) / temperature).mean(axis=0)
                     for l in logits])


def fit_temperature(logits: list[np.ndarray], y: np.ndarray) -> float:
    """The temperature that minimises the negative log-likelihood of the
    true labels ``y`` under :func:`clip_probabilities` (bounded search on
    ``log T`` within :data:`T_RANGE`)."""
    from scipy.optimize import minimize_scalar

    y = np.asarray(y)

    def nll(log_t: float) -> float:
        p = clip_probabilities(logits, float(np.exp(log_t)))[np.arange(len(y)), y]
        return float(-np.mean(np.log(np.maximum(p, 1e-12))))

    res = minimize_scalar(nll, bounds=tuple(np.log(T_RANGE)), method="bounded",
                          options={"xatol": 1e-4})
    return float(np.exp(res.x))


@dataclass
class Reliability:
    """Calibration of top-1 answers, in equal-width confidence bins.

    Attributes
    ----------
    ece : float
        Expected calibration error: the bins' ``|accuracy - confidence|``
        weighted by their share of the answers.
    edges : np.ndarray
        ``n_bins + 1`` bin edges over [0, 1].
    confidence, accuracy : np.ndarray
        Mean top probability and share right per bin (NaN for empty bins).
    counts : np.ndarray
        Answers per bin.
    """

    ece: float
    edges: np.ndarray
    confidence: np.ndarray
    accuracy: np.ndarray
    counts: np.ndarray

    def to_dict(self) -> dict:
        def clean(a):
            return [None if not np.isfinite(v) else round(float(v), 6) for v in a]

        return {"ece": self.ece, "edges": [float(e) for e in self.edges],
                "confidence": clean(self.confidence), "accuracy": clean(self.accuracy),
                "counts": [int(c) for c in self.counts]}


def reliability(confidence, correct, n_bins: int = 10) -> Reliability:
    """:class:`Reliability` of answers with top probability ``confidence``
    (right where ``correct``), ``n_bins`` equal-width bins.

    >>> r = reliability([0.9, 0.9, 0.6, 0.6], [True, True, True, False], n_bins=10)
    >>> round(r.ece, 3)
    0.1
    """
    conf = np.asarray(confidence, np.float64)
    hit = np.asarray(correct, np.float64)
    if conf.size == 0:
        raise ValueError("no answers to measure")
    edges = np.linspace(0.0, 1.0, n_bins + 1)
    which = np.clip(np.digitize(conf, edges[1:-1], right=True), 0, n_bins - 1)
    counts = np.bincount(which, minlength=n_bins)
    with np.errstate(invalid="ignore", divide="ignore"):
        mean_conf = np.bincount(which, conf, n_bins) / counts
        mean_acc = np.bincount(which, hit, n_bins) / counts
    gap = np.where(counts > 0, np.abs(np.nan_to_num(mean_acc) - np.nan_to_num(mean_conf)), 0.0)
    return Reliability(float(np.sum(gap * counts) / conf.size), edges, mean_conf, mean_acc,
                       counts)


def unsure_threshold(confidence, correct, accuracy_below: float = 0.6) -> float:
    """The top probability under which held-out answers are right less than
    ``accuracy_below`` of the time.

    Accuracy as a function of confidence is estimated by isotonic regression
    (non-decreasing) of ``correct`` on ``confidence``; the threshold is the
    lowest observed confidence where that estimate reaches
    ``accuracy_below``. Answers below it are in the region where the model is
    right less often than that. 0 when even the least sure answers reach it.

    >>> unsure_threshold([0.3, 0.4, 0.5, 0.7, 0.9], [False, False, True, True, True])
    0.5
    """
    from sklearn.isotonic import IsotonicRegression

    conf = np.asarray(confidence, np.float64)
    hit = np.asarray(correct, np.float64)
    order = np.argsort(conf, kind="stable")
    conf, hit = conf[order], hit[order]
    fitted = IsotonicRegression(increasing=True, out_of_bounds="clip").fit(conf, hit).predict(conf)
    reached = conf[fitted >= accuracy_below]
    if not reached.size:
        return 1.0
    return float(reached.min()) if reached.min() > conf.min() else 0.0


def reliability_figure(rel: Reliability, title: str = ""):
    """Reliability diagram: accuracy per confidence bin against the diagonal,
    with the number of answers per bin.

    Returns
    -------
    matplotlib.figure.Figure
    """
    from matplotlib.figure import Figure

    fig = Figure(figsize=(4.8, 4.8), layout="constrained")
    ax = fig.subplots()
    centres = (rel.edges[:-1] + rel.edges[1:]) / 2
    width = rel.edges[1] - rel.edges[0]
    ok = rel.counts > 0
    ax.bar(centres[ok], rel.accuracy[ok], width=width * 0.9, color="#4c72b0",
           edgecolor="black", label="accuracy")
    ax.plot([0, 1], [0, 1], "--", color="grey", label="perfect calibration")
    ax.plot(rel.confidence[ok], rel.accuracy[ok], "o", color="#dd8452", label="mean confidence")
    for x, a, n in zip(centres[ok], rel.accuracy[ok], rel.counts[ok]):
        ax.text(x, min(a + 0.02, 0.97), str(int(n)), ha="center", fontsize=7)
    ax.set_xlim(0, 1)
    ax.set_ylim(0, 1)
    ax.set_xlabel("top-1 probability (confidence)")
    ax.set_ylabel("share of answers right")
    ax.set_title((title + ": " if title else "") + f"ECE {rel.ece:.3f}", fontsize=10)
    ax.legend(loc="upper left", fontsize=8)
    return fig
