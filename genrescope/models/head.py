"""A small classifier trained on a frozen base model's embeddings.

``genrescope train DATA --out DIR`` (the default ``--method head``) writes a
bundle of this family: ``config.json`` with ``"architecture":
"embedding_head"`` and ``"base": "musicnn_genres"``, and a
``model.safetensors`` that holds *only* the head's weights. Loading it loads
the base model too (by name, through the registry) and puts the head on top::

    audio -> base.features -> base.embed (per patch, 400-d for musicnn_genres)
          -> standardise -> [Linear -> ReLU -> Dropout] -> Linear -> softmax

The head is trained on per-patch embeddings, one example per 3 s patch, and
the :class:`~genrescope.predict.Classifier` averages the per-patch softmax
over the patches of a clip: training and inference see the same inputs.

Optional parts of the config (the shipped default ``genres`` has all four):

``"calibration": {"temperature": T, "unsure_below": p}``
    The logits are divided by ``T`` (fitted on held-out folds, see
    :mod:`genrescope.calibration`), so the probabilities are calibrated;
    ``unsure_below`` is the top probability under which the Classifier adds
    the "ambiguous" note.
``"not_music": {"hidden": [...], "threshold": q}``
    A second, binary head on the same embeddings (weights ``not_music.*`` in
    the same ``model.safetensors``): its per-patch probability that the
    audio is not music is appended to :meth:`~EmbeddingHeadModel.scores` as
    the first extra column (``extras[0] == "not_music"``); the Classifier takes it
    off and adds the ``not_music`` note when the clip mean reaches ``q``.
``"styles": {"from": "msd_musicnn", "min_probability": p, "max": n, "names": {...}}``
    Tags of one base model (a tagger, read in the same pass as its
    embedding) named as styles beside the genre: their per-patch sigmoid
    scores are appended as extra columns ``style:<tag>`` and the Classifier
    lists up to ``n`` whose clip mean reaches ``p`` (:meth:`EmbeddingHeadModel.styles`).
``"input_level": {"target_dbfs": -20, "max_gain_db": 40}``
    Quiet audio is turned up to this RMS level before the base model's front
    end (:func:`genrescope.audio.raise_level`), as it was for every training
    input, so that the answer does not depend on the recording level.
``"head": {"context": {"from": "hearing", "embedding_dim": 384, "classes": [...]}}``
    A clip-level block appended to every patch's embedding before the genre
    head (:mod:`genrescope.context`): the companion's mean embedding and
    mean probabilities of the named classes over the middle
    ``hearing.max_seconds`` of the window. The Classifier hears the window
    first and passes the block as ``context`` (one row per patch, or one for
    all); the not-music head reads the base embedding alone.
"""

from __future__ import annotations

from pathlib import Path

import numpy as np
import torch
from torch import nn

from ..audio import raise_level
from ..context import class_columns
from ..errors import GenrescopeError
from ..features import Features
from ..labels import Genre, genre
from .base import Model
from .checkpoint import load_strict, read_state_dict
from .config import BundleConfig


class EmbeddingHead(nn.Module):
    """Standardisation, optional hidden layers, a linear classifier.

    Parameters
    ----------
    input_dim : int
        Size of the base model's embedding (456 for ``msd_musicnn`` + ``msd_vgg``).
    n_labels : int
        Outputs.
    hidden : sequence of int
        Widths of the hidden layers (``()``: a linear classifier).
    dropout : float
        Dropout before each linear layer while training.

    The standardisation (``mean``, ``std``, measured on the training
    embeddings) is stored with the weights.
    """

    def __init__(self, input_dim: int, n_labels: int, hidden=(), dropout: float = 0.0):
        super().__init__()
        self.register_buffer("mean", torch.zeros(input_dim))
        self.register_buffer("std", torch.ones(input_dim))
        layers: list[nn.Module] = []
        width = input_dim
        for h in hidden:
            layers += [nn.Dropout(dropout), nn.Linear(width, int(h)), nn.ReLU()]
            width = int(h)
        self.hidden = nn.Sequential(*layers)
        self.dropout = nn.Dropout(dropout)
        self.out = nn.Linear(width, n_labels)

    def represent(self, x: torch.Tensor) -> torch.Tensor:
        """Standardised input through the hidden layers (N, last width)."""
        return self.hidden((x - self.mean) / self.std)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        """Embeddings (N, input_dim) -> logits (N, n_labels)."""
        return self.out(self.dropout(self.represent(x)))


class StackedBase(Model):
    """Several base models on the same front end, embeddings side by side.

    Parameters
    ----------
    bases : list of Model
        Models with the same ``config["representation"]``; :meth:`embed`
        concatenates their per-patch embeddings in this order.
    """

    def __init__(self, bases: list[Model]):
        rep = bases[0].config.representation
        for other in bases[1:]:
            if other.config.representation != rep:
                raise GenrescopeError(f"{other.name} and {bases[0].name} have different front "
                                      "ends: their embeddings cannot be stacked.")
        super().__init__(BundleConfig.model_construct(   # not a bundle: no labels of its own
            name="+".join(b.name for b in bases), architecture="stacked", labels=[],
            representation=rep, components=[b.name for b in bases]))
        self.bases = nn.ModuleList(bases)

    @property
    def sr(self) -> int:
        return self.bases[0].sr

    def features(self, y: np.ndarray) -> Features:
        return self.bases[0].features(y)

    def embed(self, inputs: torch.Tensor) -> torch.Tensor:
        return torch.cat([b.embed(inputs) for b in self.bases], dim=1)

    def weights(self) -> nn.Module:
        return self.bases


def base_names(config: BundleConfig) -> list[str]:
    """The base model names of a head's config (``"base"``: a name or a list)."""
    names = [config.base] if isinstance(config.base, str) else list(config.base or [])
    if not names or not all(names):
        raise GenrescopeError(f"config.json of {config.name} lacks 'base', the model(s) "
                              "whose embeddings the head was trained on.")
    return names


def components(base: Model) -> list[Model]:
    """The base models of a (stacked) base, in embedding order."""
    return list(base.bases) if isinstance(base, StackedBase) else [base]


def style_columns(config: BundleConfig, base: Model) -> list[int]:
    """``config.styles`` checked against the base model it names: each style
    tag's column in that model's output (none without styles)."""
    spec = config.styles
    if spec is None:
        return []
    source = next((b for b in components(base) if b.name == spec.source), None)
    if source is None:
        raise GenrescopeError(f"config.json of {config.name}: 'styles' come from "
                              f"{spec.source!r}, which is not one of its base models.")
    missing = [tag for tag in spec.names if tag not in source.labels]
    if missing:
        raise GenrescopeError(f"config.json of {config.name}: style tags {missing} are "
                              f"not outputs of {source.name}.")
    return [source.labels.index(tag) for tag in spec.names]


def embed_with_scores(base: Model, inputs: torch.Tensor,
                      name: str) -> tuple[torch.Tensor, torch.Tensor]:
    """The (stacked) base's embedding and the output scores of its component
    ``name``, that component run once for both."""
    scores, parts = None, []
    for b in components(base):
        if b.name == name:
            scores, emb = b.scores_and_embed(inputs)
        else:
            emb = b.embed(inputs)
        parts.append(emb)
    return (torch.cat(parts, dim=1) if len(parts) > 1 else parts[0]), scores


def stack_bases(bases: list[Model]) -> Model:
    """One base model as it is, several as a :class:`StackedBase`."""
    return bases[0] if len(bases) == 1 else StackedBase(bases)


class EmbeddingHeadModel(Model):
    """A base model's embeddings -> :class:`EmbeddingHead`; one output per patch.

    ``config["head"]`` holds ``input_dim``, ``hidden`` and ``dropout``;
    ``config["base"]`` names the base model(s).
    """

    def __init__(self, config: BundleConfig | dict, base: Model):
        super().__init__(config)
        config = self.config
        self.base = base
        if config.head is None:
            raise GenrescopeError(f"config.json of {self.name}: 'head' must hold input_dim, "
                                  "hidden and dropout.")
        self.head = EmbeddingHead(config.head.input_dim, len(self.labels), config.head.hidden,
                                  config.head.dropout)
        self.temperature = config.calibration.temperature
        self.context = config.head.context
        if self.context is not None and config.hearing is None:
            raise GenrescopeError(f"config.json of {self.name}: 'head.context' comes from the "
                                  "companion, but the config has no 'hearing'.")
        base_dim = config.head.input_dim - (self.context.dim if self.context else 0)
        if base_dim <= 0:
            raise GenrescopeError(f"config.json of {self.name}: head.input_dim "
                                  f"{config.head.input_dim} leaves no room for the base "
                                  f"embedding beside the {self.context.dim}-value context.")
        self.not_music = None
        if config.not_music is not None:
            self.not_music = EmbeddingHead(base_dim, 2, config.not_music.hidden or [])
        self._style_index = style_columns(config, base)
        self.extras = (("not_music",) if self.not_music is not None else ()) + \
            tuple(f"style:{tag}" for tag in (config.styles.names if config.styles else {}))
        rep = config.representation
        if rep is not None and rep != base.config.representation:
            raise GenrescopeError(
                f"{self.name} was trained on the embeddings of {config.base} with "
                f"another front end ({rep}) than that model has now: train it again.")

    @classmethod
    def from_folder(cls, config: BundleConfig, folder: Path, weights: Path,
                    load_dependency=None) -> "EmbeddingHeadModel":
        """Load the base model(s) by name (through ``load_dependency``), then
        the head's weights strictly."""
        names = base_names(config)
        base_name = " + ".join(names)
        if load_dependency is None:
            raise GenrescopeError(f"{config.name} is built on {base_name}: load it "
                                  "through genrescope.models.registry.load_model.")
        base = stack_bases([load_dependency(name, folder) for name in names])
        model = cls(config, base)
        state = read_state_dict(weights)
        side = {k[len("not_music."):]: v for k, v in state.items() if k.startswith("not_music.")}
        main = {k: v for k, v in state.items() if not k.startswith("not_music.")}
        load_strict(model.head, main, weights,
                    what=f"{model.name} (embedding head on {base_name}, "
                         f"{len(model.labels)} labels)")
        if model.not_music is not None:
            load_strict(model.not_music, side, weights,
                        what=f"{model.name} (its not-music head, config 'not_music')")
        elif side:
            raise GenrescopeError(f"{weights} holds a not-music head but {folder / 'config.json'}"
                                  " has no 'not_music' entry: the bundle is incomplete.")
        model.weights_path = Path(weights)
        model.attach_hearing(folder, load_dependency)
        if model.context is not None:
            class_columns(model.context, model.hearing)       # its classes exist
        return model

    @property
    def sr(self) -> int:
        return self.base.sr

    def features(self, y: np.ndarray) -> Features:
        level = self.config.input_level
        if level is not None:
            y = raise_level(y, target_dbfs=level.target_dbfs, max_gain_db=level.max_gain_db)
        return self.base.features(y)

    def forward(self, inputs: torch.Tensor, context: torch.Tensor | None = None) -> torch.Tensor:
        """Per-patch calibrated logits (N, n_labels): base embedding (+ ``context``)
        -> head, / T."""
        return self.head(self._with_context(self.base.embed(inputs), context)) / self.temperature

    def scores(self, inputs: torch.Tensor, context: torch.Tensor | None = None) -> torch.Tensor:
        """Per-patch softmax (N, n_labels), followed by one column per name in
        :attr:`extras` (the not-music probability, the style tags), all from
        one base pass. ``context``: the window's block (:mod:`genrescope.context`),
        (N, dim) or (dim,), required when the config declares ``head.context``."""
        return self._scores(*self._base_pass(inputs), context)

    def scores_and_embed(self, inputs: torch.Tensor, context: torch.Tensor | None = None
                         ) -> tuple[torch.Tensor, torch.Tensor]:
        emb, tags = self._base_pass(inputs)
        return self._scores(emb, tags, context), self.head.represent(
            self._with_context(emb, context))

    def _with_context(self, emb: torch.Tensor, context: torch.Tensor | None) -> torch.Tensor:
        """The genre head's input: the base embedding, then the context block
        on every row (the block is required exactly when the config declares one)."""
        if self.context is None:
            if context is not None:
                raise GenrescopeError(f"{self.name} reads no context block, but one was given.")
            return emb
        if context is None:
            raise GenrescopeError(f"{self.name} reads its companion's context block beside the "
                                  "embeddings: classify through genrescope.Classifier.")
        context = torch.as_tensor(context, dtype=emb.dtype, device=emb.device)
        if context.shape[-1] != self.context.dim:
            raise GenrescopeError(f"{self.name} expects a {self.context.dim}-value context "
                                  f"block, not {context.shape[-1]}.")
        return torch.cat([emb, context.reshape(-1, self.context.dim).expand(len(emb), -1)], 1)

    def _base_pass(self, inputs: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor | None]:
        """The base embedding and, with styles, the style base's tag scores."""
        if not self._style_index:
            return self.base.embed(inputs), None
        return embed_with_scores(self.base, inputs, self.config.styles.source)

    def _scores(self, emb: torch.Tensor, tags: torch.Tensor | None = None,
                context: torch.Tensor | None = None) -> torch.Tensor:
        logits = self.head(self._with_context(emb, context))
        columns = [torch.softmax(logits / self.temperature, dim=1)]
        if self.not_music is not None:
            columns.append(torch.softmax(self.not_music(emb), dim=1)[:, 1:])
        if tags is not None:
            columns.append(tags[:, self._style_index])
        return torch.cat(columns, dim=1) if len(columns) > 1 else columns[0]

    def styles(self, side_means: dict[str, float]) -> list[tuple[Genre, float]]:
        """``(style, clip-mean score)`` of the styles to name, strongest first:
        at most ``max``, each at least ``min_probability`` (``side_means``:
        the clip mean of each :attr:`extras` column); names from ``names``."""
        if not self._style_index:
            return []
        found = sorted(((name[len("style:"):], p) for name, p in side_means.items()
                        if name.startswith("style:")), key=lambda kv: -kv[1])
        spec = self.config.styles
        return [(genre(tag, spec.names), p) for tag, p in found
                if p >= spec.min_probability][:spec.max]

    def embed(self, inputs: torch.Tensor, context: torch.Tensor | None = None) -> torch.Tensor:
        """Per-patch head representation (the input of its last linear layer)."""
        return self.head.represent(self._with_context(self.base.embed(inputs), context))

    def weights(self) -> nn.Module:
        return self.head

    def state_for_bundle(self) -> dict[str, torch.Tensor]:
        """The tensors of ``model.safetensors``: the head's, then ``not_music.*``."""
        state = dict(self.head.state_dict())
        if self.not_music is not None:
            state.update({f"not_music.{k}": v for k, v in self.not_music.state_dict().items()})
        return state
