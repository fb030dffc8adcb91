"""What a library holds: counts per genre, unsure and not-music tracks, failures."""

from __future__ import annotations

from collections import Counter
from dataclasses import dataclass, field

from ..i18n import note_name
from .results import Track


@dataclass(frozen=True)
class LibraryStats:
    """Summary of a library (one object may be shared by several callers:
    :meth:`Library.stats <genrescope.library.Library.stats>` keeps it until
    the database changes).

    Attributes
    ----------
    n_tracks : int
        Rows (analysed and failed).
    per_genre : list of (str, int)
        Top-genre label and its track count, most common first.
    unsure : list of Track
        Top genre under the model's unsure threshold (an "ambiguous" warning).
    not_music : list of Track
        Silent recordings, or a not-music label on top.
    failed : list of Track
        Files that could not be analysed (``error`` says why).
    duration_s : float
        Total length of the analysed tracks.
    models : list of str
    heard : list of (str, int)
        Each voice or instrument heard in the library (label id) and the count
        of tracks that ``Library.tracks(heard=label)`` finds, most common first.
    notes : list of (str, int)
        Each note code of the analysed tracks and its track count, most common first.
    """

    n_tracks: int
    per_genre: list
    unsure: list = field(default_factory=list)
    not_music: list = field(default_factory=list)
    failed: list = field(default_factory=list)
    duration_s: float = 0.0
    models: list = field(default_factory=list)
    heard: list = field(default_factory=list)
    notes: list = field(default_factory=list)
    _names: dict = field(default_factory=dict, repr=False)
    _heard_names: dict = field(default_factory=dict, repr=False)

    @classmethod
    def of(cls, tracks: list[Track]) -> "LibraryStats":
        ok = [t for t in tracks if t.error is None and t.top]
        counts = Counter(t.top[0][0] for t in ok)
        names = {}
        heard_names = {}
        for t in ok:
            names.setdefault(t.top[0][0], t)
            for h in t.heard:
                heard_names.setdefault(h["label"], (h["name_en"], h["name_zh"]))
        words = Counter(word for t in ok for word in t.heard_keys)   # a track once per word
        heard = Counter({label: words[label.lower()] for label in heard_names})
        notes = Counter(code for t in ok for code in {w["code"] for w in t.warnings})
        return cls(n_tracks=len(tracks),
                   per_genre=sorted(counts.items(), key=lambda kv: (-kv[1], kv[0])),
                   unsure=[t for t in ok if t.unsure],
                   not_music=[t for t in ok if t.not_music],
                   failed=[t for t in tracks if t.error is not None],
                   duration_s=sum(t.duration_s or 0.0 for t in ok),
                   models=sorted({t.model for t in ok if t.model}),
                   heard=_most_common_first(heard), notes=_most_common_first(notes),
                   _names=names, _heard_names=heard_names)

    def genre_name(self, label: str, lang: str = "en") -> str:
        t = self._names.get(label)
        return t.genre_name(label, lang) if t else label

    def heard_name(self, label: str, lang: str = "en") -> str:
        """The name of a voice or instrument of :attr:`heard` in ``lang``."""
        en, zh = self._heard_names.get(label, (label, label))
        return zh if lang == "zh" else en

    def to_dict(self, lang: str = "en") -> dict:
        return {"n_tracks": self.n_tracks, "duration_s": round(self.duration_s, 1),
                "models": self.models,
                "per_genre": [{"label": g, "name": self.genre_name(g, lang), "tracks": n}
                              for g, n in self.per_genre],
                "unsure": [{"id": t.id, "path": t.path} for t in self.unsure],
                "not_music": [{"id": t.id, "path": t.path} for t in self.not_music],
                "failed": [{"id": t.id, "path": t.path, "error": t.error} for t in self.failed],
                "heard": [{"label": h, "name": self.heard_name(h, lang), "tracks": n}
                          for h, n in self.heard],
                "notes": [{"code": c, "name": note_name(c, lang), "tracks": n}
                          for c, n in self.notes]}

    def text(self, lang: str = "en") -> str:
        zh = lang == "zh"
        hours = self.duration_s / 3600
        lines = [f"{self.n_tracks:,} 首曲目，{hours:.1f} 小时（模型：{', '.join(self.models)}）" if zh
                 else f"{self.n_tracks:,} tracks, {hours:.1f} h (model: {', '.join(self.models)})"]
        width = max([len(self.genre_name(g, lang)) for g, _ in self.per_genre] + [4])
        for g, n in self.per_genre:
            lines.append(f"  {self.genre_name(g, lang):<{width}}  {n:>6}")
        for title_en, title_zh, items in (
                ("unsure (top genre under the model's threshold)",
                 "不确定（最高流派低于模型的阈值）", self.unsure),
                ("not music", "不是音乐", self.not_music)):
            lines.append(f"{title_zh if zh else title_en}: {len(items)}")
            lines += [f"  {t.path}" for t in items[:20]]
            if len(items) > 20:
                lines.append(f"  ... {len(items) - 20} more" if not zh
                             else f"  …… 另有 {len(items) - 20} 首")
        if self.heard:                           # the ten most common, as the filter counts
            lines.append(("听到：" if zh else "heard: ") + ", ".join(
                f"{self.heard_name(h, lang)} {n}" for h, n in self.heard[:10]))
        if self.notes:
            lines.append(("提示：" if zh else "notes: ") + ", ".join(
                f"{note_name(c, lang)} {n}" for c, n in self.notes))
        lines.append(f"{'无法分析' if zh else 'failed'}: {len(self.failed)}")
        lines += [f"  {t.path}: {t.error}" for t in self.failed[:20]]
        return "\n".join(lines)


def _most_common_first(counts: Counter) -> list:
    return sorted(counts.items(), key=lambda kv: (-kv[1], kv[0]))
