"""Genre taxonomies: stable ids with English and Chinese display names.

A model's ``config.json`` lists its label ids in output order. Display names
come from the taxonomy tables below, or from the ``label_names`` of the
config itself (models trained by the user), or from the id as a last resort
(underscores become spaces). The user interface never shows a raw id.
"""

from __future__ import annotations

from dataclasses import dataclass

LANGUAGES = ("en", "zh")


@dataclass(frozen=True)
class Genre:
    """One label of a model.

    Attributes
    ----------
    id : str
        Stable identifier, as stored in the model's config (``Pop_vocal_ballad``).
    en, zh : str
        English and Chinese display names.
    """

    id: str
    en: str
    zh: str

    def name(self, lang: str = "en") -> str:
        """Display name in ``lang`` (``"en"`` or ``"zh"``)."""
        if lang not in LANGUAGES:
            raise ValueError(f"lang must be one of {LANGUAGES}, not {lang!r}")
        return self.zh if lang == "zh" else self.en


#: The 16 genres of the ccmusic-database ``music_genre`` checkpoints, in the
#: checkpoints' output order.
CCMUSIC_GENRES: tuple[Genre, ...] = (
    Genre("Symphony", "Symphony", "交响乐"),
    Genre("Opera", "Opera", "歌剧"),
    Genre("Solo", "Solo", "独奏"),
    Genre("Chamber", "Chamber", "室内乐"),
    Genre("Pop_vocal_ballad", "Pop vocal ballad", "流行抒情"),
    Genre("Adult_contemporary", "Adult contemporary", "成人当代"),
    Genre("Teen_pop", "Teen pop", "青少年流行"),
    Genre("Contemporary_dance_pop", "Contemporary dance pop", "现代舞曲"),
    Genre("Dance_pop", "Dance pop", "舞曲流行"),
    Genre("Classic_indie_pop", "Classic indie pop", "独立流行"),
    Genre("Chamber_cabaret_and_art_pop", "Chamber cabaret & art pop", "艺术流行"),
    Genre("Soul_or_RnB", "Soul / R&B", "灵魂乐"),
    Genre("Adult_alternative_rock", "Adult alternative rock", "成人另类摇滚"),
    Genre("Uplifting_anthemic_rock", "Uplifting anthemic rock", "励志摇滚"),
    Genre("Soft_rock", "Soft rock", "软摇滚"),
    Genre("Acoustic_pop", "Acoustic pop", "原声流行"),
)

#: The 10 broad genres of the shipped default model ``genres`` (the GTZAN
#: taxonomy; ids as GTZAN's file names spell them), alphabetical = output order.
BROAD_GENRES: tuple[Genre, ...] = (
    Genre("blues", "Blues", "蓝调"),
    Genre("classical", "Classical", "古典"),
    Genre("country", "Country", "乡村"),
    Genre("disco", "Disco", "迪斯科"),
    Genre("hiphop", "Hip-hop", "嘻哈"),
    Genre("jazz", "Jazz", "爵士"),
    Genre("metal", "Metal", "金属"),
    Genre("pop", "Pop", "流行"),
    Genre("reggae", "Reggae", "雷鬼"),
    Genre("rock", "Rock", "摇滚"),
)

#: Styles the default model names beside its genre: the Million Song
#: Dataset tags of ``msd_musicnn`` that are styles (not one of the 10 broad
#: genres, a decade, a mood or a kind of voice), ids as the tagger spells them.
MSD_STYLES: tuple[Genre, ...] = (
    Genre("alternative", "Alternative", "另类"),
    Genre("alternative rock", "Alternative rock", "另类摇滚"),
    Genre("indie", "Indie", "独立"),
    Genre("indie rock", "Indie rock", "独立摇滚"),
    Genre("indie pop", "Indie pop", "独立流行"),
    Genre("classic rock", "Classic rock", "经典摇滚"),
    Genre("hard rock", "Hard rock", "硬摇滚"),
    Genre("Progressive rock", "Progressive rock", "前卫摇滚"),
    Genre("punk", "Punk", "朋克"),
    Genre("heavy metal", "Heavy metal", "重金属"),
    Genre("electronic", "Electronic", "电子"),
    Genre("electronica", "Electronica", "电子乐"),
    Genre("electro", "Electro", "电音"),
    Genre("dance", "Dance", "舞曲"),
    Genre("House", "House", "浩室"),
    Genre("ambient", "Ambient", "氛围音乐"),
    Genre("chillout", "Chill-out", "弛放"),
    Genre("experimental", "Experimental", "实验音乐"),
    Genre("soul", "Soul", "灵魂乐"),
    Genre("funk", "Funk", "放克"),
    Genre("rnb", "R&B", "节奏布鲁斯"),
    Genre("folk", "Folk", "民谣"),
    Genre("acoustic", "Acoustic", "原声"),
    Genre("easy listening", "Easy listening", "轻音乐"),
)

_KNOWN: dict[str, Genre] = {g.id: g for g in (*CCMUSIC_GENRES, *BROAD_GENRES)}


def genre(label: str, label_names: dict | None = None) -> Genre:
    """Look up the display names of ``label``.

    Parameters
    ----------
    label : str
        Label id as stored in a model config.
    label_names : dict, optional
        ``{id: {"en": ..., "zh": ...}}`` from the model's config; takes
        precedence over the built-in tables.

    Returns
    -------
    Genre
    """
    names = (label_names or {}).get(label)
    if names:
        en = names.get("en") or _humanise(label)
        return Genre(label, en, names.get("zh") or en)
    if label in _KNOWN:
        return _KNOWN[label]
    en = _humanise(label)
    return Genre(label, en, en)


def _humanise(label: str) -> str:
    text = label.replace("_", " ").strip()
    return text[:1].upper() + text[1:] if text else label
