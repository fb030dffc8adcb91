"""The genre to write for a file: from the library when it knows the file as
it is now, else analysed now with one Classifier (loaded on first need)."""

from __future__ import annotations

import os
from dataclasses import dataclass, field

from ..errors import GenrescopeError
from ..track import NOT_SURE_CODES

#: Seconds analysed for a file not in the library (taken from its middle).
ANALYSED_S = 30.0


@dataclass
class Answer:
    """A genre for one file.

    Attributes
    ----------
    genre : str
        The genre's name in the asked language (what is written).
    label : str
        Its stable id.
    confidence : float
        Its probability (0-1).
    styles : list of str
        Style names (empty when none or when the answer came from a library,
        which does not keep styles).
    model : str
    source : str
        ``library`` or ``analysis``.
    notes : list of str
        Warning codes of the prediction.
    heard : list of str
        English names of the voices and instruments heard (AudioSet's, e.g.
        "Violin, fiddle"; empty when the model has no companion that hears).
    """

    genre: str
    label: str
    confidence: float
    model: str
    source: str
    styles: list = field(default_factory=list)
    notes: list = field(default_factory=list)
    heard: list = field(default_factory=list)

    @property
    def sure(self) -> bool:
        """No note of :data:`NOT_SURE_CODES`."""
        return not set(self.notes) & NOT_SURE_CODES

    def confident(self, min_confidence: float | None) -> bool:
        """Whether to write it: sure (``None``) or at least ``min_confidence``."""
        return self.sure if min_confidence is None else self.confidence >= min_confidence


class Answers:
    """Where answers come from for one run.

    Parameters
    ----------
    db : str or PathLike, optional
        A library database.
    lang : {"en", "zh"}
    load_classifier : callable
        Returns a :class:`~genrescope.Classifier`; called once, on the first
        file the library does not know.
    """

    def __init__(self, db=None, *, lang: str = "en", load_classifier=None):
        self.lang = lang
        self.library = None
        if db is not None:
            from ..library.catalog import Library

            self.library = Library(db)
        self._load_classifier = load_classifier
        self._classifier = None

    def close(self) -> None:
        if self.library is not None:
            self.library.close()

    def from_library(self, path: str, st: os.stat_result) -> Answer | None:
        """The library's answer if it holds ``path`` with this size and mtime, or
        (after hashing) a row with this content."""
        if self.library is None:
            return None
        con = self.library.con
        row = con.execute("SELECT id, size, mtime_ns FROM tracks WHERE path=? AND error IS NULL",
                          (path,)).fetchone()
        if row is None or (row[1], row[2]) != (st.st_size, st.st_mtime_ns):
            from ..library.record import content_hash

            row = con.execute("SELECT id FROM tracks WHERE content_hash=? AND error IS NULL "
                              "ORDER BY path = ? DESC LIMIT 1",
                              (content_hash(path), path)).fetchone()
        if row is None:
            return None
        track = self.library.track(int(row[0]))
        if not track.top:
            return None
        label, p = track.top[0]
        return Answer(track.genre_name(label, self.lang), label, float(p), track.model or "",
                      "library", notes=[w["code"] for w in track.warnings],
                      heard=[h["name_en"] for h in track.heard])

    def analyse(self, path: str) -> Answer:
        """Classify ``path`` now (its middle :data:`ANALYSED_S` seconds)."""
        from ..library.analyse import probe_duration_s

        if self._classifier is None:
            if self._load_classifier is None:
                raise GenrescopeError("No model to analyse with.")
            self._classifier = self._load_classifier()
        duration_s = probe_duration_s(path) or 0.0
        offset_s = max(0.0, duration_s / 2 - ANALYSED_S / 2)
        pred = self._classifier.classify(path, offset_s=offset_s, duration_s=ANALYSED_S)
        top = pred.top[0]
        return Answer(top.name(self.lang), top.label, float(top.probability), pred.model,
                      "analysis", styles=[s.name(self.lang) for s in pred.styles],
                      notes=[w.code for w in pred.warnings],
                      heard=[h.name.en for h in pred.heard])

    def answer(self, path: str, st: os.stat_result) -> Answer:
        return self.from_library(path, st) or self.analyse(path)
