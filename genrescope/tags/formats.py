"""A file's genre fields through mutagen, one small adapter per tag family.

Three families cover the formats written: ID3v2 (MP3; WAV and AIFF through
their ``id3 `` chunk), Vorbis comments (FLAC, Ogg Vorbis, Opus) and MP4 atoms
(M4A/MP4). Every field is addressed by its raw key in the family
(``TCON``, ``TXXX:GENRESCOPE_CONFIDENCE``; ``GENRE``; ``©gen``,
``----:com.genrescope:confidence``) and holds a list of values or ``None``
(no such field): that is what an undo record stores, so an undo puts back
exactly the values a write replaced, including "no field".

MP4's legacy numeric ``gnre`` atom: mutagen reads it as the equivalent
``©gen`` text and writes ``©gen`` in its place, so a write replaces it by the
named genre and an undo restores that name as ``©gen`` text.
"""

from __future__ import annotations

import os
from dataclasses import dataclass

from ..errors import GenrescopeError

#: Extension -> tag family. Other extensions are reported and skipped.
FAMILY_OF_EXTENSION = {
    ".mp3": "id3", ".wav": "id3", ".aif": "id3", ".aiff": "id3",
    ".flac": "vorbis", ".ogg": "vorbis", ".oga": "vorbis", ".opus": "vorbis",
    ".m4a": "mp4", ".mp4": "mp4", ".m4b": "mp4",
}
#: The analysis details written on request (``--details``), logical names.
DETAIL_NAMES = ("confidence", "model", "source")
#: Largest tag block read, in bytes: a file claiming more is refused as malformed.
MAX_TAG_BYTES = 32 << 20


class TagError(GenrescopeError):
    """A file whose tags cannot be read or written (malformed, unsupported)."""


@dataclass(frozen=True)
class Keys:
    """The raw keys of one family: the genre field and the detail fields."""

    genre: str
    details: dict

    def all(self) -> list[str]:
        return [self.genre, *self.details.values()]


KEYS = {
    "id3": Keys("TCON", {n: f"TXXX:GENRESCOPE_{n.upper()}" for n in DETAIL_NAMES}),
    "vorbis": Keys("GENRE", {n: f"GENRESCOPE_{n.upper()}" for n in DETAIL_NAMES}),
    "mp4": Keys("\u00a9gen", {n: f"----:com.genrescope:{n}" for n in DETAIL_NAMES}),
}


def family(path: str | os.PathLike) -> str | None:
    """The tag family written for ``path``'s extension, ``None`` if not supported."""
    return FAMILY_OF_EXTENSION.get(os.path.splitext(os.fspath(path))[1].lower())


def _mutagen_class(path: str, ext: str):
    from mutagen.aiff import AIFF
    from mutagen.flac import FLAC
    from mutagen.mp3 import MP3
    from mutagen.mp4 import MP4
    from mutagen.oggopus import OggOpus
    from mutagen.oggvorbis import OggVorbis
    from mutagen.wave import WAVE

    if ext in (".ogg", ".oga"):                     # Vorbis or Opus inside: look
        with open(path, "rb") as f:
            head = f.read(64)
        return OggOpus if b"OpusHead" in head else OggVorbis
    return {".mp3": MP3, ".wav": WAVE, ".aif": AIFF, ".aiff": AIFF, ".flac": FLAC,
            ".opus": OggOpus, ".m4a": MP4, ".mp4": MP4, ".m4b": MP4}[ext]


def _check_id3_size(path: str, ext: str) -> None:
    """Refuse an MP3 whose ID3v2 header claims more than :data:`MAX_TAG_BYTES`
    or more bytes than the file has."""
    if ext != ".mp3":
        return
    with open(path, "rb") as f:
        head = f.read(10)
    if len(head) == 10 and head[:3] == b"ID3":
        size = 0
        for b in head[6:10]:
            size = (size << 7) | (b & 0x7F)
        if size > MAX_TAG_BYTES or size + 10 > os.path.getsize(path):
            raise TagError(f"its ID3 tag claims {size} bytes (malformed or too large)")


class TagFile:
    """One file's tags, opened with mutagen.

    Parameters
    ----------
    path : str or PathLike
        The file to read (and, with :meth:`save`, to write in place: callers
        give a copy, see :mod:`genrescope.tags.safe`).
    ext : str, optional
        The extension that decides the format (the original's, when ``path``
        is a temporary copy).

    Raises
    ------
    TagError
        Unsupported extension, not a file of that format, malformed tags.
    """

    def __init__(self, path: str | os.PathLike, ext: str | None = None):
        import mutagen

        self.path = os.fspath(path)
        ext = (ext or os.path.splitext(self.path)[1]).lower()
        if ext not in FAMILY_OF_EXTENSION:
            raise TagError(f"{ext or 'no extension'}: not a format genrescope writes tags to")
        self.family = FAMILY_OF_EXTENSION[ext]
        self.keys = KEYS[self.family]
        try:
            _check_id3_size(self.path, ext)
            self.file = _mutagen_class(self.path, ext)(self.path)
            if self.file.tags is None:
                self.file.add_tags()
        except TagError:
            raise
        except (mutagen.MutagenError, OSError, ValueError, EOFError) as exc:
            raise TagError(f"unreadable or malformed tags ({type(exc).__name__}: {exc})") \
                from exc
        self.id3_version = getattr(self.file.tags, "version", (2, 4, 0))[1]

    # -- reading ------------------------------------------------------------ #
    def get(self, key: str) -> list | None:
        """The values of raw field ``key`` (``None``: no such field)."""
        tags = self.file.tags
        if self.family == "id3":
            frames = tags.getall(key)
            return [str(t) for t in frames[0].text] if frames else None
        if self.family == "vorbis":
            values = [v for k, v in tags if k.lower() == key.lower()]
            return values or None
        if key not in tags:
            return None
        if key.startswith("----:"):
            try:
                return [bytes(v).decode("utf-8") for v in tags[key]]
            except UnicodeDecodeError as exc:
                raise TagError(f"field {key} is not UTF-8 text") from exc
        return [str(v) for v in tags[key]]

    def state(self) -> dict:
        """Raw key -> values of every field genrescope may change."""
        return {k: self.get(k) for k in self.keys.all()}

    def genres(self) -> list[str]:
        """The genres as a player shows them (ID3 ``(17)`` numbers resolved
        to names)."""
        if self.family == "id3":
            frames = self.file.tags.getall("TCON")
            return list(frames[0].genres) if frames else []
        return self.get(self.keys.genre) or []

    # -- writing ------------------------------------------------------------ #
    def set(self, key: str, values: list | None) -> None:
        """Set raw field ``key`` to ``values`` (``None`` or ``[]``: remove it)."""
        tags = self.file.tags
        if self.family == "id3":
            self._set_id3(key, values)
        elif self.family == "vorbis":
            _set_vorbis(tags, key, values)
        elif not values:
            tags.pop(key, None)
        elif key.startswith("----:"):
            from mutagen.mp4 import AtomDataType, MP4FreeForm

            tags[key] = [MP4FreeForm(str(v).encode("utf-8"), AtomDataType.UTF8)
                         for v in values]
        else:
            tags[key] = [str(v) for v in values]

    def _set_id3(self, key: str, values: list | None) -> None:
        from mutagen import id3

        tags = self.file.tags
        tags.delall(key)
        if not values:
            return
        encoding = 3 if self.id3_version >= 4 else 1       # UTF-8 is v2.4 only
        if key.startswith("TXXX:"):
            tags.add(id3.TXXX(encoding=encoding, desc=key[5:], text=list(values)))
        else:
            tags.add(getattr(id3, key)(encoding=encoding, text=list(values)))

    def apply(self, state: dict) -> None:
        """Set every field of ``state`` (raw key -> values or ``None``)."""
        for key, values in state.items():
            self.set(key, values)

    def save(self) -> None:
        """Write the tags into :attr:`path` (ID3 keeps the file's v2.3 or v2.4)."""
        import mutagen

        try:
            if self.family == "id3":
                version = self.id3_version if self.id3_version in (3, 4) else 4
                self.file.save(v2_version=version)
            else:
                self.file.save()
        except (mutagen.MutagenError, OSError, ValueError) as exc:
            raise TagError(f"could not write the tags ({type(exc).__name__}: {exc})") from exc


def _set_vorbis(tags, key: str, values: list | None) -> None:
    """Replace the comments named ``key`` in place: the new values go where
    the first old one was (with its spelling of the key), the others keep
    their order; without an old one they go at the end."""
    entries = list(tags)
    positions = [i for i, (k, _) in enumerate(entries) if k.lower() == key.lower()]
    spelling = entries[positions[0]][0] if positions else key
    new = [(spelling, str(v)) for v in values or []]
    at = positions[0] if positions else len(entries)
    kept = [e for i, e in enumerate(entries) if i not in set(positions)]
    at -= sum(1 for i in positions if i < at)
    kept[at:at] = new
    tags.clear()
    tags.extend(kept)


def genre_tag_holds(path: str, value: str) -> bool:
    """Whether the file's genre tag holds ``value`` (case-insensitive), e.g. a
    style written by ``genrescope tag --styles``; False when it cannot be read."""
    try:
        return value.lower() in {g.lower() for g in TagFile(path).genres()}
    except GenrescopeError:
        return False
