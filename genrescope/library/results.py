"""What the library answers with: :class:`Track` rows and similar-track :class:`Hit` s."""

from __future__ import annotations

import json
from dataclasses import dataclass, field
from pathlib import Path

from ..labels import genre as genre_of

#: Labels that mean "this is not music" when a model has them.
NOT_MUSIC_LABELS = frozenset({"speech", "noise", "silence", "not_music", "non_music"})


@dataclass
class Track:
    """One row of the library (without its arrays).

    Attributes
    ----------
    id : int
    path : str
    size : int
        Bytes.
    duration_s : float or None
    model : str or None
    windows : str or None
        The analysed windows' plan.
    top : list of (str, float)
        Top genres (label id, probability).
    warnings : list of dict
    error : str or None
        Why the file could not be analysed.
    names : dict
        Label id -> (English, Chinese) of the track's model.
    heard : list of dict
        Voices and instruments heard (``kind``, ``label``, ``name_en``,
        ``name_zh``, ``score``); empty for tracks indexed before they were.
    """

    id: int
    path: str
    size: int
    duration_s: float | None
    model: str | None
    windows: str | None
    top: list
    warnings: list
    error: str | None
    names: dict = field(default_factory=dict, repr=False)
    heard: list = field(default_factory=list)

    @property
    def title(self) -> str:
        return Path(self.path).stem

    @property
    def heard_keys(self) -> set[str]:
        """Every word :meth:`Library.tracks(heard=...) <genrescope.library.Library.tracks>`
        finds this track by (see :func:`heard_keys`)."""
        return heard_keys(self.heard)

    def genre_name(self, label: str, lang: str = "en") -> str:
        if label in self.names:
            return self.names[label][1 if lang == "zh" else 0]
        return genre_of(label).name(lang)

    @property
    def unsure(self) -> bool:
        """The indexer's "ambiguous" warning: the top genre under the model's threshold."""
        return self.error is None and any(w["code"] == "ambiguous" for w in self.warnings)

    @property
    def not_music(self) -> bool:
        return self.error is None and (
            any(w["code"] in ("silence", "not_music") for w in self.warnings)
            or bool(self.top and self.top[0][0].lower() in NOT_MUSIC_LABELS))

    def to_dict(self, lang: str = "en") -> dict:
        return {"id": self.id, "path": self.path, "title": self.title, "size": self.size,
                "duration_s": self.duration_s, "model": self.model, "windows": self.windows,
                "top": [{"label": g, "name": self.genre_name(g, lang), "probability": p}
                        for g, p in self.top],
                "warnings": self.warnings, "error": self.error,
                "heard": [{"kind": h["kind"], "label": h["label"],
                           "name": h["name_zh" if lang == "zh" else "name_en"],
                           "score": h["score"]} for h in self.heard],
                "unsure": self.unsure, "not_music": self.not_music}


def shared_heard(query: Track | None, other: Track) -> list[dict]:
    """The instruments and voices heard in both tracks (``other``'s entries,
    its strongest first; "instrumental", the absence of a voice, is not one);
    none when the query is not a library track."""
    if query is None:
        return []
    mine = {h.get("label") for h in query.heard if h.get("kind") != "instrumental"}
    return [h for h in sorted(other.heard, key=lambda h: -h.get("score", 0.0))
            if h.get("label") in mine]


def heard_has(heard_json: str | None, wanted: str) -> bool:
    """Whether a track's ``heard_json`` holds ``wanted``: its label id, English
    or Chinese name, or one word of the English name (``violin`` finds
    "Violin, fiddle", ``guitar`` "Electric guitar"), case-insensitive
    (:func:`heard_keys`)."""
    wanted = (wanted or "").strip().lower()
    return bool(heard_json and wanted) and wanted in heard_keys(json.loads(heard_json))


def heard_keys(heard: list) -> set[str]:
    """The words that find a track's ``heard`` entries: each one's label id,
    English and Chinese name and the words of its English name (``violin``
    finds "Violin, fiddle", ``guitar`` "Electric guitar"), lower case."""
    keys = set()
    for h in heard:
        en = str(h.get("name_en", "")).lower()
        keys |= {str(h.get("label", "")).lower(), en, str(h.get("name_zh", "")).lower(),
                 *en.replace(",", " ").replace("_", " ").split()}
    return keys - {""}


@dataclass
class Hit:
    """A similar track and why it is near.

    Attributes
    ----------
    track : Track
    similarity : float
        Cosine similarity of the embeddings (1 = the same).
    shared_genres : list of str
        Genres at least 15 % probable in both tracks, the most shared first.
    genre_overlap : float
        How alike the two genre mixes are (0-1).
    timeline_similarity : float or None
        How alike the genre timelines are (0-1).
    query_top : (str, float) or None
        The query's top genre and its probability.
    shared_heard : list of dict
        Instruments and voices heard in both tracks (``label``, ``name_en``,
        ``name_zh``), the track's strongest first.
    """

    track: Track
    similarity: float
    shared_genres: list
    genre_overlap: float
    timeline_similarity: float | None
    query_top: tuple | None = None
    shared_heard: list = field(default_factory=list)

    def reason(self, lang: str = "en") -> str:
        """Why the track is near, in words that agree with the numbers: how
        alike it sounds (the similarity), the genres both tracks really have
        (each at least :data:`~genrescope.library.search.SHARED_MIN_P`), or
        that its genre differs; whether the genres change at the same places."""
        from .search import sound_level

        zh = lang == "zh"
        level = sound_level(self.similarity)
        sound = (("听起来非常相似", "听起来相似", "听起来有些相似", "听起来略有相似") if zh else
                 ("sounds very alike", "sounds alike", "sounds somewhat alike",
                  "sounds a little alike"))[level]
        names = [self.track.genre_name(g, lang) for g in self.shared_genres]
        heard = [h["name_zh"] if zh else h["name_en"].split(",")[0].lower()
                 for h in self.shared_heard[:2]]
        with_heard = ("；都有" + "、".join(heard) if zh else "; both with " +
                      " and ".join(heard)) if heard else ""
        if names:
            parts = [sound, ("都是" + "、".join(names)) if zh else "both " + " and ".join(names)]
            if self.timeline_similarity is not None and self.timeline_similarity >= 0.8:
                parts.append("各段的流派也一致" if zh else "the same genres at the same moments")
            return ("；" if zh else "; ").join(parts) + with_heard
        return self._genre_differs(sound, lang) + with_heard

    def _genre_differs(self, sound: str, lang: str) -> str:
        zh = lang == "zh"
        if not self.track.top or not self.query_top:
            return sound
        (mine, p), (theirs, q) = self.track.top[0], self.query_top
        if mine == theirs:                        # the same top genre, weak in one of them
            name = self.track.genre_name(mine, lang)
            return f"{sound}；都偏向{name}" if zh else f"{sound}; both lean to {name}"
        mine, theirs = self.track.genre_name(mine, lang), self.track.genre_name(theirs, lang)
        if zh:
            return f"{sound}，但流派不同：它是{mine}（{p:.0%}），所选曲目是{theirs}（{q:.0%}）"
        return f"{sound}, but another genre: {mine} ({p:.0%}), the chosen track {theirs} ({q:.0%})"

    def to_dict(self, lang: str = "en") -> dict:
        return {"track": self.track.to_dict(lang), "similarity": round(self.similarity, 6),
                "shared_genres": self.shared_genres,
                "genre_overlap": round(self.genre_overlap, 4),
                "timeline_similarity": None if self.timeline_similarity is None
                else round(self.timeline_similarity, 4),
                "shared_heard": [h["label"] for h in self.shared_heard],
                "reason": self.reason(lang)}
