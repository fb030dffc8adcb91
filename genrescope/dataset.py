"""Labelled audio collections: find them on disk, split them reproducibly.

Three layouts are understood (see :func:`list_labelled`):

- a folder with one sub-folder per genre (``data/jazz/take5.mp3``);
- a flat folder of files named ``<genre>.<id>.<ext>`` (GTZAN: ``jazz.00042.wav``);
- a CSV file with the header ``path,label`` (relative paths are resolved
  against the CSV's folder).

Splits and folds are by file: every chunk of a recording stays on the same
side, so no part of a validation file is ever seen in training. The grouped
variants (:func:`grouped_split`, :func:`grouped_folds`) go further and keep
every file of one *song* on the same side: GTZAN-style names
``<genre>.<id>.<ext>`` with the same ``<genre>.<id>`` in two folders (a full
clip and an excerpt of it) are one song (:func:`song_key`).
"""

from __future__ import annotations

import csv
import os
import zlib
from collections import defaultdict
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from .audio import AUDIO_EXTENSIONS
from .files import audio_files_under, is_audio_name
from .errors import GenrescopeError


@dataclass(frozen=True, order=True)
class LabelledFile:
    """One audio file with its genre label (sorting is by label, then path)."""

    label: str
    path: Path


def list_labelled(data: str | os.PathLike) -> list[LabelledFile]:
    """Every labelled audio file in a folder or CSV file.

    Parameters
    ----------
    data : str or PathLike
        A folder with one sub-folder per genre, a folder of files named
        ``<genre>.<id>.<ext>``, or a CSV file with a ``path,label`` header.

    Returns
    -------
    list of LabelledFile
        Sorted by label, then path.

    Raises
    ------
    GenrescopeError
        ``data`` does not exist, holds no audio, mixes both folder layouts,
        or a CSV row is incomplete or names a missing file.

    Examples
    --------
    >>> items = list_labelled("gtzan")                            # doctest: +SKIP
    >>> items[0]                                                  # doctest: +SKIP
    LabelledFile(label='blues', path=PosixPath('gtzan/blues.00000.wav'))
    """
    root = Path(data).expanduser()
    if root.is_file():
        if root.suffix.lower() != ".csv":
            raise GenrescopeError(
                f"{root} is a file but not a CSV: give a folder of audio or a CSV file "
                "with the header 'path,label'.")
        return sorted(_from_csv(root))
    if not root.is_dir():
        raise GenrescopeError(f"No such folder or CSV file: {root}", status=404)
    flat = [p for p in _visible(root) if p.is_file() and _is_audio(p)]
    nested = {d: found for d in _visible(root) if d.is_dir() and (found := _audio_under(d))}
    if flat and nested:
        raise GenrescopeError(
            f"{root} mixes audio files ({flat[0].name}, ...) with genre sub-folders "
            f"({', '.join(d.name for d in list(nested)[:3])}, ...): use one layout, either "
            "one sub-folder per genre or files named <genre>.<id>.<ext>.")
    if nested:
        return sorted(LabelledFile(d.name, p) for d, files in nested.items() for p in files)
    if not flat:
        raise GenrescopeError(
            f"No audio files in {root}: expected one sub-folder per genre, files named "
            f"<genre>.<id>.<ext>, or a CSV file (audio extensions: "
            f"{' '.join(AUDIO_EXTENSIONS)}).")
    unnamed = [p.name for p in flat if len(p.name.split(".")) < 3 or not p.name.split(".")[0]]
    if unnamed:
        raise GenrescopeError(
            f"{len(unnamed)} file(s) in {root} are not named <genre>.<id>.<ext> "
            f"(e.g. {', '.join(unnamed[:3])}), so their genre is unknown: rename them or "
            "put them into one sub-folder per genre.")
    return sorted(LabelledFile(p.name.split(".")[0], p) for p in flat)


def stratified_split(items: list[LabelledFile], val_fraction: float = 0.2,
                     seed: int = 0) -> tuple[list[LabelledFile], list[LabelledFile]]:
    """Split files into training and validation sets, genre by genre.

    Each genre contributes ``round(n * val_fraction)`` files to validation,
    but at least one when it has two or more files and never all of them.
    The result depends only on the set of files and ``seed``, not on their
    order, and one genre's split does not change when another is added.

    Parameters
    ----------
    items : list of LabelledFile
    val_fraction : float
        Share of each genre's files held out, in (0, 1).
    seed : int

    Returns
    -------
    train, val : list of LabelledFile
        Both sorted by label, then path.
    """
    if not 0 < val_fraction < 1:
        raise GenrescopeError(f"val_fraction must be between 0 and 1, got {val_fraction}")
    train, val = [], []
    for label, files in _by_label(items).items():
        files = _shuffled(files, label, seed)
        n_val = min(max(round(len(files) * val_fraction), 1 if len(files) > 1 else 0),
                    len(files) - 1)
        val += files[:n_val]
        train += files[n_val:]
    return sorted(train), sorted(val)


def stratified_folds(items: list[LabelledFile], k: int = 5,
                     seed: int = 0) -> list[tuple[list[LabelledFile], list[LabelledFile]]]:
    """``k`` cross-validation folds, each genre spread evenly over them.

    Every file is in the validation set of exactly one fold. The files of
    each genre are shuffled and dealt round-robin, continuing where the
    previous genre stopped, so fold sizes differ by at most one. A genre
    with fewer than ``k`` files is missing from some validation sets.

    Parameters
    ----------
    items : list of LabelledFile
    k : int
        Number of folds, 2 to ``len(items)``.
    seed : int

    Returns
    -------
    list of (train, val)
        One pair per fold, each list sorted by label, then path.
    """
    if not 2 <= k <= len(items):
        raise GenrescopeError(f"k must be between 2 and the number of files "
                              f"({len(items)}), got {k}")
    folds: list[list[LabelledFile]] = [[] for _ in range(k)]
    dealt = 0
    for label, files in _by_label(items).items():
        for f in _shuffled(files, label, seed):
            folds[dealt % k].append(f)
            dealt += 1
    everything = set(items)
    return [(sorted(everything - set(val)), sorted(val)) for val in folds]


def song_key(item: LabelledFile) -> str:
    """The song a file belongs to: ``<genre>.<id>`` for GTZAN-style names whose
    prefix is the file's label (``jazz.00042.wav`` and an excerpt
    ``jazz.00042.wav`` in another folder are one song), else the file's path.
    """
    parts = item.path.name.split(".")
    if len(parts) >= 3 and parts[0] == item.label and parts[1]:
        return f"{parts[0]}.{parts[1]}"
    return str(item.path)


def grouped_split(items: list[LabelledFile], val_fraction: float = 0.2,
                  seed: int = 0) -> tuple[list[LabelledFile], list[LabelledFile]]:
    """:func:`stratified_split` of *songs* (:func:`song_key`): all files of a
    song land on the same side. Without repeated songs it equals
    :func:`stratified_split` of the files."""
    songs = _songs(items)
    train, val = stratified_split(list(songs), val_fraction, seed)
    return (sorted(f for s in train for f in songs[s]), sorted(f for s in val for f in songs[s]))


def grouped_folds(items: list[LabelledFile], k: int = 5,
                  seed: int = 0) -> list[tuple[list[LabelledFile], list[LabelledFile]]]:
    """:func:`stratified_folds` of songs (:func:`song_key`): every file of a
    song is held out by the same fold, each genre's songs spread evenly.

    Parameters
    ----------
    items : list of LabelledFile
    k : int
        Number of folds, 2 to the number of songs.
    seed : int

    Returns
    -------
    list of (train, val)
        One pair per fold, each list sorted by label, then path.
    """
    songs = _songs(items)
    return [(sorted(f for s in train for f in songs[s]), sorted(f for s in val for f in songs[s]))
            for train, val in stratified_folds(list(songs), k, seed)]


def _songs(items: list[LabelledFile]) -> dict[LabelledFile, list[LabelledFile]]:
    """One representative per song (its first file) -> the song's files."""
    by_key: dict[tuple, list[LabelledFile]] = defaultdict(list)
    for item in sorted(set(items)):
        by_key[(item.label, song_key(item))].append(item)
    return {files[0]: files for files in by_key.values()}


def label_counts(items: list[LabelledFile]) -> dict[str, int]:
    """Number of files per label, labels sorted."""
    return {label: len(files) for label, files in _by_label(items).items()}


def _by_label(items) -> dict[str, list[LabelledFile]]:
    groups = defaultdict(list)
    for item in sorted(set(items)):
        groups[item.label].append(item)
    return dict(sorted(groups.items()))


def _shuffled(files: list[LabelledFile], label: str, seed: int) -> list[LabelledFile]:
    rng = np.random.default_rng([seed, zlib.crc32(label.encode())])
    return [files[i] for i in rng.permutation(len(files))]


def _visible(folder: Path) -> list[Path]:
    return sorted(p for p in folder.iterdir() if not p.name.startswith("."))


def _is_audio(path: Path) -> bool:
    return is_audio_name(path.name)


def _audio_under(folder: Path) -> list[Path]:
    return [Path(p) for p in audio_files_under(folder)]


def _from_csv(path: Path) -> list[LabelledFile]:
    with open(path, newline="", encoding="utf-8-sig") as f:
        reader = csv.DictReader(f)
        fields = [n.strip() for n in reader.fieldnames or []]
        if "path" not in fields or "label" not in fields:
            raise GenrescopeError(
                f"{path} needs a header line 'path,label', found {','.join(fields) or 'none'}.")
        reader.fieldnames = fields
        rows = list(reader)
    items, missing = [], []
    for line, row in enumerate(rows, start=2):
        file, label = (row.get("path") or "").strip(), (row.get("label") or "").strip()
        if not file or not label:
            raise GenrescopeError(f"{path}, line {line}: both path and label are needed.")
        audio = (path.parent / Path(file).expanduser())
        if not audio.is_file():
            missing.append(file)
        items.append(LabelledFile(label, audio))
    if missing:
        raise GenrescopeError(
            f"{path} names {len(missing)} file(s) that do not exist (e.g. "
            f"{', '.join(missing[:3])}); relative paths are read from the CSV's folder.")
    if not items:
        raise GenrescopeError(f"{path} lists no files.")
    return items
