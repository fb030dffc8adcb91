"""Which models exist, where their weights are looked for, and loading them.

Three kinds of model folders:

- bundles shipped inside the package (``genrescope/assets/<name>/``), which
  work on a fresh machine;
- official ccmusic-database checkpoints in the models directory, laid out as
  ``<models dir>/<backbone>_<cqt|mel>/save.pt`` (no config.json: the
  configuration follows from the folder name, the one place a name is read);
- bundles the user trained or exported: any folder with ``config.json`` and
  ``model.safetensors`` (or ``save.pt``).

The models directory is ``--models-dir``, else ``$GENRESCOPE_MODELS``, else
``./models``.
"""

from __future__ import annotations

import functools
import importlib
import json
import os
from dataclasses import dataclass
from pathlib import Path

from ..errors import GenrescopeError
from ..features import ImageSpec
from ..labels import CCMUSIC_GENRES
from .base import Model
from .config import BundleConfig

ASSETS_DIR = Path(__file__).resolve().parent.parent / "assets"
DEFAULT_MODEL = "genres"
OFFICIAL_BACKBONES = ("vgg19_bn", "vgg16_bn", "vgg13_bn", "vgg11_bn")
OFFICIAL_REPRESENTATIONS = ("cqt", "mel")
WEIGHT_FILES = ("model.safetensors", "save.pt")
REQUIRED_FIELDS = ("architecture", "labels")
#: Architecture -> (module of :mod:`genrescope.models`, class): the families,
#: imported when a model of theirs is loaded. ccmusic's VGG backbones are
#: added from :data:`genrescope.models.vgg.PLANS` (see :func:`model_family`).
FAMILIES = {
    "musicnn": ("musicnn", "MusicnnModel"),
    "musicnn_genres": ("musicnn", "MusicnnGenreModel"),
    "musicnn_vgg": ("musicnn_vgg", "MusicnnVggModel"),
    "embedding_head": ("head", "EmbeddingHeadModel"),
    "efficientat": ("efficientat", "EfficientATModel"),
}
VGG_FAMILY = ("vgg", "VggImageModel")


@dataclass
class ModelEntry:
    """A model genrescope knows of, loaded or not.

    Attributes
    ----------
    name : str
    path : Path
        Its folder.
    config : BundleConfig or None
        Its configuration (``None`` when ``config.json`` is unreadable).
    weights : Path
        The weights file it needs.
    source : {"builtin", "official", "user"}
    reason : str
        Why it is unavailable; empty when it can be loaded.
    """

    name: str
    path: Path
    config: BundleConfig | None
    weights: Path
    source: str
    reason: str = ""

    @property
    def available(self) -> bool:
        return not self.reason


def models_dir(explicit: str | os.PathLike | None = None) -> Path:
    """The folder where official checkpoints and user bundles are looked for."""
    return Path(explicit or os.environ.get("GENRESCOPE_MODELS") or "models").expanduser()


def official_config(name: str) -> BundleConfig:
    """Configuration of an official ccmusic checkpoint, from its folder name."""
    backbone, _, representation = name.rpartition("_")
    if backbone not in OFFICIAL_BACKBONES or representation not in OFFICIAL_REPRESENTATIONS:
        raise GenrescopeError(f"{name!r} is not an official ccmusic model name.", status=404)
    return BundleConfig.parse({
        "name": name,
        "architecture": backbone,
        "display_name": f"{backbone.upper()} on {representation.upper()} "
                        "(ccmusic-database, 16 genres)",
        "representation": ImageSpec(type=representation).to_dict(),
        "labels": [g.id for g in CCMUSIC_GENRES],
        "output": "softmax",
        "source": "ccmusic-database/music_genre",
    }, f"the configuration of {name}")


def find_models(models_dir_: str | os.PathLike | None = None) -> list[ModelEntry]:
    """Every known model: shipped bundles, the official names (present or
    not) and bundles found in the models directory, in that order."""
    root = models_dir(models_dir_)
    entries: dict[str, ModelEntry] = {}
    for folder in sorted(p for p in ASSETS_DIR.iterdir() if (p / "config.json").is_file()) \
            if ASSETS_DIR.is_dir() else []:
        entries.setdefault(folder.name, _bundle_entry(folder, "builtin"))
    for backbone in OFFICIAL_BACKBONES:
        for representation in OFFICIAL_REPRESENTATIONS:
            name = f"{backbone}_{representation}"
            entries.setdefault(name, _official_entry(root / name))
    if root.is_dir():
        for folder in sorted(p for p in root.iterdir() if p.is_dir()):
            if folder.name not in entries and (folder / "config.json").is_file():
                entries[folder.name] = _bundle_entry(folder, "user")
    return list(entries.values())


def resolve(name: str | os.PathLike | None = None,
            models_dir_: str | os.PathLike | None = None) -> ModelEntry:
    """Find a model by name, or by the path of its folder or weights file.

    Raises
    ------
    GenrescopeError
        (status 404) for an unknown name.
    """
    name = os.fspath(name) if name else DEFAULT_MODEL
    path = Path(name).expanduser()
    if path.is_file():
        path = path.parent
    if path.is_dir():
        if (path / "config.json").is_file():
            return _bundle_entry(path, "user")
        if (path / "save.pt").is_file():
            return _official_entry(path)
        raise GenrescopeError(
            f"{path} holds neither config.json nor save.pt, so it is not a model folder.",
            status=404)
    entries = {e.name: e for e in find_models(models_dir_)}
    if name in entries:
        return entries[name]
    raise GenrescopeError(
        f"Unknown model {name!r}. Known models: {', '.join(entries)}. "
        "A folder with config.json and model.safetensors is accepted too.", status=404)


def load_model(entry: ModelEntry, device: str = "cpu") -> Model:
    """Build the network an entry describes, load its weights strictly and
    put it in evaluation mode on ``device``.

    Raises
    ------
    GenrescopeError
        The weights are missing or damaged, or do not fit the configuration.
    """
    if not entry.available:
        raise GenrescopeError(entry.reason, status=404)
    family = model_family(entry.config.architecture, entry.path / "config.json")
    model = family.from_folder(entry.config, entry.path, entry.weights, _load_dependency)
    return model.eval().to(device)


def _load_dependency(name: str, folder: Path) -> Model:
    """A model another one is built on: ``folder``'s sibling ``name`` if it is a
    bundle, else ``name`` resolved as usual (a shipped model, most often)."""
    beside = folder.parent / name
    return load_model(resolve(beside if (beside / "config.json").is_file() else name))


def model_family(architecture: str, where: Path | str = "config.json") -> type[Model]:
    """The :class:`Model` subclass that builds ``architecture`` (:data:`FAMILIES`)."""
    from .vgg import PLANS

    found = VGG_FAMILY if architecture in PLANS else FAMILIES.get(architecture)
    if found is None:
        raise GenrescopeError(f"{where}: unknown architecture {architecture!r}; known: "
                              f"{', '.join([*PLANS, *FAMILIES])}.")
    module, cls = found
    return getattr(importlib.import_module(f".{module}", __package__), cls)


def read_config(folder: Path) -> BundleConfig:
    """Read and check ``folder/config.json`` (:class:`BundleConfig`).

    Raises
    ------
    GenrescopeError
        Unreadable JSON, missing, unknown or wrongly typed fields, named.
    """
    path = folder / "config.json"
    try:
        config = json.loads(path.read_text(encoding="utf-8"))
    except (OSError, UnicodeDecodeError, json.JSONDecodeError) as exc:
        raise GenrescopeError(f"{path} is not valid JSON: {exc}") from exc
    if not isinstance(config, dict):
        raise GenrescopeError(f"{path} must hold a JSON object.")
    missing = [k for k in REQUIRED_FIELDS if k not in config]
    if missing:
        raise GenrescopeError(f"{path} lacks the field(s) {', '.join(missing)}.")
    if not isinstance(config["labels"], list) or not config["labels"]:
        raise GenrescopeError(f"{path}: 'labels' must be a non-empty list of label ids.")
    config.setdefault("name", folder.name)
    return BundleConfig.parse(config, str(path))


def _bundle_entry(folder: Path, source: str) -> ModelEntry:
    try:
        config = _read_config_once(folder, (folder / "config.json").stat().st_mtime_ns)
    except (GenrescopeError, OSError) as exc:
        return ModelEntry(folder.name, folder, None, folder / "config.json", source, str(exc))
    weights = next((folder / w for w in WEIGHT_FILES if (folder / w).is_file()),
                   folder / WEIGHT_FILES[0])
    reason = "" if weights.is_file() or config.components else \
        f"Model {config.name} has no weights: {weights} is missing."
    return ModelEntry(config.name, folder, config, weights, source, reason)


@functools.lru_cache(maxsize=256)
def _read_config_once(folder: Path, mtime_ns: int) -> BundleConfig:
    """:func:`read_config`, once per version of the file (``mtime_ns``): lookups
    do not read and validate every bundle's JSON again."""
    return read_config(folder)


def _official_entry(folder: Path) -> ModelEntry:
    config = official_config(folder.name)
    weights = folder / "save.pt"
    reason = ""
    if not weights.is_file():
        builtin = ", ".join(p.name for p in sorted(ASSETS_DIR.iterdir())
                            if (p / "config.json").is_file()) if ASSETS_DIR.is_dir() else ""
        reason = (
            f"Model {folder.name} needs the official checkpoint {weights.resolve()}, which is "
            f"missing. Download {folder.name}/save.pt from the ccmusic-database 'music_genre' "
            f"model repository and put it there (or point --models-dir / GENRESCOPE_MODELS at "
            f"the folder that holds {folder.name}/). Models that work without a download: "
            f"{builtin or 'none installed'}.")
    return ModelEntry(folder.name, folder, config, weights, "official", reason)
