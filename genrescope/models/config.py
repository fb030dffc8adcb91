"""A model bundle's ``config.json``, read once into a typed, validated object.

:class:`BundleConfig` names every key a bundle may hold; an unknown key, a
missing one or a value of the wrong type is a :class:`GenrescopeError` that
names the bundle and the key. Code asks ``config.calibration.unsure_below``;
the defaults live here, in the types, not in each caller. The family-specific
blocks (``representation``, ``network``, ``tag_map``) are checked by the
family that builds the network from them (:mod:`genrescope.models`).

``BundleConfig.raw`` keeps the JSON object as stored: the library's model
version digest is computed from it, and bundles are written from it.
"""

from __future__ import annotations

from typing import Any, Literal

from pydantic import BaseModel, ConfigDict, Field, PrivateAttr, ValidationError

from ..errors import GenrescopeError

#: Top probability under which a prediction carries the "ambiguous" note, for
#: models without a calibrated ``calibration.unsure_below``.
AMBIGUOUS_BELOW = 0.60
#: Mean per-chunk not-music probability from which the ``not_music`` note shows,
#: for models with a not-music head whose config gives no ``not_music.threshold``.
NOT_MUSIC_FROM = 0.5


class _Part(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True, populate_by_name=True)


class Calibration(_Part):
    """Temperature scaling and the calibrated "unsure" threshold."""

    method: str | None = None
    temperature: float = Field(1.0, gt=0, allow_inf_nan=False)
    unsure_below: float = Field(AMBIGUOUS_BELOW, ge=0, le=1)
    fitted_on: Any = None


class NotMusic(_Part):
    """A second head saying whether the audio is music at all."""

    hidden: list[int] | int | None = None
    inputs: str | None = None
    threshold: float = Field(NOT_MUSIC_FROM, ge=0, le=1)


class Styles(_Part):
    """Styles named beside the genre: a base tagger's own tags."""

    source: str = Field(alias="from")
    names: dict[str, dict[str, str]]
    min_probability: float = Field(0.15, ge=0, le=1)
    max: int = Field(3, ge=0)


class InputLevel(_Part):
    """Quiet input turned up before the networks (:func:`genrescope.audio.raise_level`)."""

    target_dbfs: float = Field(le=0, ge=-80)
    max_gain_db: float = Field(ge=0, le=80)


class HearingSpec(_Part):
    """A companion AudioSet tagger heard in the same pass (the default's
    ``audioset``): what the audio is, voices and instruments, genres outside
    the labels (:mod:`genrescope.hearing`, decided in :mod:`genrescope.track`)."""

    model: str
    #: Seconds of the window the companion hears, from its middle (its cost bound).
    max_seconds: float = Field(10.0, gt=0, allow_inf_nan=False)
    #: How the not-music note is decided: the model's own not-music head, the
    #: companion's kind of sound (speech, animal, nature, noise, silence), either, or both.
    not_music: Literal["head", "hearing", "either", "both"] = "hearing"
    #: Outside genre: the companion's strongest outside-the-labels genre class must
    #: reach this and beat the strongest covered one (:func:`genrescope.track.outside_note`).
    outside_from: float = Field(0.5, ge=0, le=1)
    #: ... or, confirmed by the base tagger's own tags of the same family
    #: (``tag_families``), this lower companion score suffices.
    outside_confirmed_from: float = Field(0.25, ge=0, le=1)
    #: Base-tagger tag (a ``styles`` tag) -> outside family id
    #: (:data:`genrescope.hearing.OUTSIDE_FAMILIES`).
    tag_families: dict[str, str] = {}
    #: Tag score from which a tag confirms its family.
    tag_from: float = Field(0.3, ge=0, le=1)


class ContextSpec(_Part):
    """A clip-level block of inputs appended to every patch's embedding
    (:mod:`genrescope.context`): the companion's (``hearing``) mean embedding
    over its chunks of the middle ``hearing.max_seconds`` of the window, then
    its mean probability of each of ``classes`` (AudioSet ids), in this order."""

    source: Literal["hearing"] = Field("hearing", alias="from")
    embedding_dim: int = Field(gt=0)
    classes: list[str] = []

    @property
    def dim(self) -> int:
        """Values in the block: ``embedding_dim + len(classes)``."""
        return self.embedding_dim + len(self.classes)


class HeadSpec(_Part):
    """The layers of an embedding head (:mod:`genrescope.models.head`).

    ``input_dim`` counts every input of the genre head: the base embedding,
    then the ``context`` block when there is one (the not-music head reads
    the base embedding alone)."""

    input_dim: int = Field(gt=0)
    hidden: list[int] = []
    dropout: float = Field(0.0, ge=0, lt=1)
    inputs: str | None = None
    context: ContextSpec | None = None


class BundleConfig(_Part):
    """What ``config.json`` holds (every key; unknown keys are refused).

    ``normalise`` defaults to ``output == "softmax"``.
    """

    name: str
    architecture: str
    labels: list[str] = Field(min_length=1)
    label_names: dict[str, dict[str, str]] | None = None
    display_name: str | None = None
    output: Literal["softmax", "sigmoid"] = "softmax"
    normalise: bool | None = None
    score: str | None = None
    representation: dict[str, Any] | None = None
    network: dict[str, Any] | None = None
    head_widths: list[int] | None = None
    base: str | list[str] | None = None
    components: list[str] | None = None
    tag_map: dict[str, dict[str, list[str]]] | None = None
    head: HeadSpec | None = None
    calibration: Calibration = Calibration()
    not_music: NotMusic | None = None
    styles: Styles | None = None
    input_level: InputLevel | None = None
    hearing: HearingSpec | None = None
    label_mids: dict[str, str] | None = None
    license: Any = None
    credit: str | None = None
    source: Any = None
    metrics: dict[str, Any] | None = None
    training: dict[str, Any] | None = None

    _raw: dict = PrivateAttr(default_factory=dict)

    @property
    def raw(self) -> dict:
        """The JSON object as stored (with ``name`` filled in)."""
        return self._raw

    @property
    def scores_sum_to_one(self) -> bool:
        """Whether clip scores are rescaled to sum to 1 (``normalise``)."""
        return self.output == "softmax" if self.normalise is None else self.normalise

    @classmethod
    def parse(cls, data: dict, where: str = "config.json") -> "BundleConfig":
        """Validate ``data`` (a ``config.json`` object); ``where`` names the
        bundle in errors.

        Raises
        ------
        GenrescopeError
            Unknown, missing or wrongly typed keys, each named.
        """
        if not isinstance(data, dict):
            raise GenrescopeError(f"{where} must hold a JSON object.")
        try:
            config = cls.model_validate(data)
        except ValidationError as exc:
            problems = "; ".join(
                f"{'.'.join(map(str, e['loc'])) or 'config'}: "
                + ("unknown key" if e["type"] == "extra_forbidden" else e["msg"])
                for e in exc.errors())
            raise GenrescopeError(f"{where} is not a valid model configuration: {problems}.") \
                from None
        config._raw = data
        return config
