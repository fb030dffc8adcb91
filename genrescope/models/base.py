"""What every model family offers the :class:`~genrescope.predict.Classifier`."""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path

import numpy as np
import torch
from torch import nn

from ..errors import GenrescopeError
from ..features import Features
from .checkpoint import load_strict, read_state_dict
from .config import BundleConfig
from ..labels import Genre, genre


class Model(nn.Module):
    """A network with its front end, labels and output rule.

    Subclasses build the network from ``config`` (the model's ``config.json``,
    typed: :class:`~genrescope.models.config.BundleConfig`) and implement
    :meth:`features`, :meth:`forward` and :meth:`embed`. The optional outputs
    a family may add are declared here with their empty defaults:
    :attr:`extras` (side columns after the labels: ``"not_music"``,
    ``"style:<tag>"``), :meth:`styles` and :attr:`hearing` (a companion
    AudioSet tagger the Classifier runs on the same window, from which the
    ``heard`` voices and instruments and the sound notes come; ``None``
    unless the config has ``hearing``).

    Attributes
    ----------
    config : BundleConfig
        The model's configuration, as stored beside its weights (validated).
    name : str
    labels : list of str
        Label ids in output order.
    genres : list of Genre
        Display names of ``labels``.
    output : {"softmax", "sigmoid"}
        How logits become per-chunk scores.
    normalise : bool
        Whether chunk-averaged scores are rescaled to sum to 1 (for tag models
        whose sigmoid scores are shown as relative confidence).
    """

    #: Names of the side columns :meth:`scores` appends after the labels
    #: (``"not_music"``, ``"style:<tag>"``); none unless a family adds them.
    extras: tuple[str, ...] = ()
    #: A clip-level block from the companion that :meth:`scores`, :meth:`embed`
    #: and :meth:`scores_and_embed` read as ``context=`` beside the chunks
    #: (a :class:`~genrescope.models.config.ContextSpec`; see
    #: :mod:`genrescope.context`); None unless a head's config declares one.
    context = None

    def __init__(self, config: BundleConfig | dict):
        super().__init__()
        if not isinstance(config, BundleConfig):
            config = BundleConfig.parse(config, f"the configuration of {config.get('name')}")
        self.config = config
        self.name = config.name
        self.labels = list(config.labels)
        self.genres: list[Genre] = [genre(k, config.label_names) for k in self.labels]
        self.output = config.output
        self.normalise = config.scores_sum_to_one
        self.precision = "fp32"
        self.weights_path: Path | None = None    # the file the weights came from
        self.hearing: Model | None = None        # companion tagger (config "hearing")

    @classmethod
    def from_folder(cls, config: BundleConfig, folder: Path, weights: Path,
                    load_dependency: Callable[[str, Path], "Model"] | None = None) -> "Model":
        """Build the model from ``config`` and load ``weights`` strictly.

        ``load_dependency(name, folder)`` loads another model this one is built
        on (a base model, a component) by name, preferring a folder beside
        ``folder``; the registry passes it, so families never import the registry.
        """
        model = cls(config)
        load_strict(model.weights(), read_state_dict(weights), weights,
                    what=f"{model.name} ({config.architecture}, {len(model.labels)} labels)")
        model.weights_path = Path(weights)
        model.attach_hearing(folder, load_dependency)
        return model

    def attach_hearing(self, folder: Path,
                       load_dependency: Callable[[str, Path], "Model"] | None) -> None:
        """Load the companion model ``config.hearing.model`` names (through
        ``load_dependency``, as base models are) into :attr:`hearing`; nothing
        without ``hearing`` in the config."""
        spec = self.config.hearing
        if spec is None:
            return
        if load_dependency is None:
            raise GenrescopeError(f"{self.name} hears through {spec.model}: load it through "
                                  "genrescope.models.registry.load_model.")
        companion = load_dependency(spec.model, folder)
        if companion.output != "sigmoid" or companion.hearing is not None:
            raise GenrescopeError(f"config.json of {self.name}: 'hearing' needs a tagger "
                                  f"(sigmoid scores, AudioSet ids); {spec.model} is not one.")
        self.hearing = companion

    def compile_for_throughput(self, device: str) -> None:
        """Trade a one-off compile (about a second) for faster network calls,
        for a process that analyses many files with these weights (the library
        indexer's workers): each model inside that gains overrides
        :meth:`_compile_own`. Never while the weights are being trained."""
        for m in self.modules():
            if isinstance(m, Model):
                m._compile_own(device)

    def _compile_own(self, device: str) -> None:
        """This model's own network compiled for :meth:`compile_for_throughput`
        (default: nothing to gain)."""

    #: Numeric precisions :meth:`set_precision` accepts (``"fp32"`` always).
    precisions: tuple = ("fp32",)

    def default_precision(self, device: str) -> str:
        """The precision ``"auto"`` chooses on ``device``."""
        return "fp32"

    def set_precision(self, precision: str) -> None:
        """Switch the network to ``precision`` (one of :attr:`precisions`)."""
        if precision not in self.precisions:
            raise GenrescopeError(
                f"{self.name} runs in {', '.join(self.precisions)}, not {precision}.")
        self.precision = precision

    @property
    def sr(self) -> int:
        """Sample rate in Hz the front end expects."""
        raise NotImplementedError

    def features(self, y: np.ndarray) -> Features:
        """Mono float32 audio at :attr:`sr` -> network inputs and pictures."""
        raise NotImplementedError

    def embed(self, inputs: torch.Tensor) -> torch.Tensor:
        """Per-chunk embeddings (N, D)."""
        raise NotImplementedError

    def weights(self) -> nn.Module:
        """The module whose ``state_dict`` is stored in the weights file."""
        raise NotImplementedError

    def scores(self, inputs: torch.Tensor) -> torch.Tensor:
        """Per-chunk label scores (N, n_labels): softmax or sigmoid of the logits."""
        return self.activate(self(inputs))

    def activate(self, logits: torch.Tensor) -> torch.Tensor:
        """Logits -> scores (:attr:`output`: sigmoid or softmax over labels)."""
        return torch.sigmoid(logits) if self.output == "sigmoid" else torch.softmax(logits, dim=1)

    def scores_and_embed(self, inputs: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
        """:meth:`scores` and :meth:`embed` of the same chunks; families whose
        network yields both in one pass override it (the library indexer needs both)."""
        return self.scores(inputs), self.embed(inputs)

    def styles(self, side_means: dict[str, float]) -> list[tuple[Genre, float]]:
        """``(style, clip-mean score)`` to name beside the genre, strongest first
        (``side_means``: the clip mean of each :attr:`extras` column); none
        unless a family names styles."""
        return []
