"""What a clip's AudioSet probabilities say beside its genre: voices and
instruments heard, what kind of sound it is, and a genre outside the ten.

Pure functions on a mapping ``{AudioSet label id: probability}`` (the ids
of the shipped ``audioset`` bundle, e.g. ``Female_singing``; a clip's
probabilities are its chunks' mean sigmoid scores, as
:attr:`genrescope.predict.Prediction.probabilities` holds them). No model,
no torch: any model whose labels are AudioSet ids can feed it.

>>> from genrescope.hearing import hear
>>> h = hear({"Music": 0.9, "Female_singing": 0.5, "Singing": 0.6, "Piano": 0.4,
...           "Techno": 0.3, "Electronic_music": 0.35, "Pop_music": 0.2})
>>> [x.name.en for x in h.heard], h.kind.id, h.outside.family.en, h.outside.genre.en
(['Female singing', 'Piano'], 'music', 'Electronic', 'Electronic music')

The rules (thresholds in the constants below):

*heard* (only for music), from each class's highest chunk probability
(``peaks``: heard anywhere in the clip counts): the voice first, the most
specific one present (a kind of singing, choir or rap over plain
``Singing``; ``Speech`` counts as spoken vocals only without singing);
"Instrumental" only when every voice class is below :data:`ABSENT` (between
the two nothing is claimed about the voice); then the strongest
instruments present, a parent class (``Guitar``) dropped when one of its
kinds (``Electric_guitar``) is present; three entries at most.

*kind*: each kind's evidence is the highest probability among its AudioSet
classes (:data:`KIND_CLASSES`, AudioSet's own top classes and their main
children). Speech at least :data:`DOMINANT` with music present and not
explained by singing: music under speech. Else music at least
:data:`DOMINANT`: music. Else the kind with the most evidence, if it is
at least :data:`PRESENT`; when nothing is, silence if ``Silence`` leads,
else noise (an unrecognised sound).

*outside*: for music, the family (:data:`OUTSIDE_FAMILIES`) of the
strongest AudioSet genre class that none of GTZAN's ten genres covers,
if that class is present; ``inside_score`` is the strongest covered
genre class's probability, for comparison.
"""

from __future__ import annotations

import json
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from functools import lru_cache
from pathlib import Path

import numpy as np

from .labels import Genre, genre

# --------------------------------------------------------------------------- #
# thresholds: chosen a priori, NOT fitted to any clip. AudioSet labels are
# sparse and weak, so a multi-label AudioSet tagger gives sounds that are
# present but not the main event probabilities of roughly 0.1-0.5, while
# absent classes sit near 0.01; 0.5 would miss most real instruments and
# genres. PRESENT = 0.2 is a round value inside that band; DOMINANT = 0.5
# means "the tagger is more sure than not"; ABSENT = 0.05 is five times the
# absent-class level, under which a voice is taken as not there. Calibrate
# them on a labelled set before trusting them beyond "likely".
#
# On music, this small model (mn04) gives voices and instruments low
# probabilities (the "Music" parent class takes most of the evidence):
# expect few claims, and "Instrumental" only for clear cases.
# --------------------------------------------------------------------------- #
#: Probability from which a class counts as heard (voice, instrument, genre, kind).
PRESENT = 0.2
#: Probability from which a kind of sound dominates (music; speech over music).
DOMINANT = 0.5
#: Highest voice probability under which the music is called instrumental.
ABSENT = 0.05
#: Most entries of :attr:`Hearing.heard`.
MAX_HEARD = 3

#: Voice classes, the more specific first (a kind of singing beats "Singing").
SPECIFIC_VOICES = ("Choir", "Rapping", "Female_singing", "Male_singing", "Child_singing",
                   "Synthetic_singing", "Yodeling", "Chant", "Mantra", "Humming", "A_capella")
SINGING = "Singing"
SPOKEN = ("Speech", "Narration_monologue", "Male_speech_man_speaking",
          "Female_speech_woman_speaking")
INSTRUMENTAL = Genre("instrumental", "Instrumental", "纯音乐（无人声）")
SPOKEN_VOCALS = Genre("spoken_vocals", "Spoken vocals", "念白人声")

#: AudioSet instrument classes shown as heard, with the parent each one refines.
INSTRUMENTS: dict[str, str | None] = {
    "Guitar": None, "Electric_guitar": "Guitar", "Bass_guitar": "Guitar",
    "Acoustic_guitar": "Guitar", "Steel_guitar_slide_guitar": "Guitar",
    "Banjo": None, "Sitar": None, "Mandolin": None, "Zither": None, "Ukulele": None,
    "Piano": None, "Electric_piano": "Piano", "Organ": None, "Electronic_organ": "Organ",
    "Hammond_organ": "Organ", "Synthesizer": None, "Sampler": None, "Harpsichord": None,
    "Drum_kit": None, "Drum_machine": None, "Drum": None, "Snare_drum": "Drum",
    "Bass_drum": "Drum", "Timpani": "Drum", "Tabla": "Drum", "Cymbal": None, "Hi_hat": "Cymbal",
    "Wood_block": None, "Tambourine": None, "Maraca": None, "Gong": None, "Tubular_bells": None,
    "Marimba_xylophone": None, "Glockenspiel": None, "Vibraphone": None, "Steelpan": None,
    "Orchestra": None, "String_section": None, "French_horn": None, "Trumpet": None,
    "Trombone": None, "Violin_fiddle": None, "Cello": None, "Double_bass": None,
    "Flute": None, "Saxophone": None, "Clarinet": None, "Harp": None, "Harmonica": None,
    "Accordion": None, "Bagpipes": None, "Didgeridoo": None, "Theremin": None,
    "Singing_bowl": None,
}

#: Kinds of sound and the AudioSet classes whose highest probability is each one's evidence.
KINDS: tuple[Genre, ...] = (
    Genre("music", "Music", "音乐"),
    Genre("speech", "Speech", "语音"),
    Genre("music_under_speech", "Music under speech", "语音下的背景音乐"),
    Genre("animal", "Animal sounds", "动物声音"),
    Genre("nature", "Nature sounds", "自然声音"),
    Genre("noise", "Noise or other sounds", "噪声或其他声音"),
    Genre("silence", "Silence", "静音"),
)
KIND_CLASSES: dict[str, tuple[str, ...]] = {
    "music": ("Music", "Musical_instrument"),
    "speech": ("Speech", "Male_speech_man_speaking", "Female_speech_woman_speaking",
               "Child_speech_kid_speaking", "Conversation", "Narration_monologue"),
    "animal": ("Animal", "Domestic_animals_pets", "Livestock_farm_animals_working_animals",
               "Wild_animals", "Dog", "Cat", "Bird", "Insect", "Frog"),
    "nature": ("Wind", "Rustling_leaves", "Thunderstorm", "Thunder", "Water", "Rain", "Stream",
               "Waterfall", "Ocean", "Waves_surf", "Fire"),
    "noise": ("Noise", "Environmental_noise", "White_noise", "Pink_noise", "Static", "Mains_hum",
              "Vehicle", "Engine", "Mechanisms", "Tools", "Alarm", "Explosion", "Door",
              "Sine_wave", "Chirp_tone", "Sound_effect", "Pulse",
              "Hubbub_speech_noise_speech_babble",
              "Crowd", "Applause", "Television", "Radio"),
    "silence": ("Silence",),
}

#: AudioSet genre classes that GTZAN's ten genres (blues, classical, country,
#: disco, hiphop, jazz, metal, pop, reggae, rock) cover.
INSIDE_TEN: tuple[str, ...] = (
    "Pop_music", "Hip_hop_music", "Rock_music", "Heavy_metal", "Punk_rock", "Grunge",
    "Progressive_rock", "Rock_and_roll", "Psychedelic_rock", "Reggae", "Country", "Bluegrass",
    "Swing_music", "Jazz", "Disco", "Classical_music", "Blues")
#: AudioSet genre classes outside the ten, by family (id, English, Chinese, classes).
OUTSIDE_FAMILIES: tuple[tuple[Genre, tuple[str, ...]], ...] = (
    (Genre("electronic", "Electronic", "电子音乐"),
     ("Electronic_music", "House_music", "Techno", "Dubstep", "Drum_and_bass", "Electronica",
      "Electronic_dance_music", "Trance_music")),
    (Genre("ambient_new_age", "Ambient & new age", "氛围与新世纪"),
     ("Ambient_music", "New_age_music")),
    (Genre("rnb_soul_funk", "R&B, soul & funk", "节奏布鲁斯、灵魂乐与放克"),
     ("Rhythm_and_blues", "Soul_music", "Funk")),
    (Genre("latin", "Latin", "拉丁音乐"),
     ("Music_of_Latin_America", "Salsa_music", "Flamenco")),
    (Genre("folk", "Folk", "民谣"), ("Folk_music",)),
    (Genre("world", "World & traditional", "世界与传统音乐"),
     ("Traditional_music", "Middle_Eastern_music", "Music_of_Africa", "Afrobeat",
      "Music_of_Asia", "Carnatic_music", "Music_of_Bollywood")),
    (Genre("gospel", "Gospel & Christian", "福音与基督教音乐"),
     ("Gospel_music", "Christian_music")),
    (Genre("ska", "Ska", "斯卡"), ("Ska",)),
    (Genre("opera_vocal", "Opera & vocal", "歌剧与声乐"), ("Opera", "Vocal_music")),
    (Genre("children", "Children's music", "儿童音乐"), ("Music_for_children",)),
)

SHIPPED_CONFIG = Path(__file__).resolve().parent / "assets" / "audioset" / "config.json"


@dataclass(frozen=True)
class Heard:
    """A voice or instrument heard (``kind`` ``"voice"``, ``"instrumental"``
    or ``"instrument"``) with its AudioSet probability (for "instrumental":
    1 minus the strongest voice's)."""

    kind: str
    name: Genre
    score: float


@dataclass(frozen=True)
class SoundKind:
    """What the clip is (:data:`KINDS`): ``id``, names, the deciding
    evidence ``score`` and every kind's evidence in ``evidence``."""

    kind: Genre
    score: float
    evidence: dict

    @property
    def id(self) -> str:
        return self.kind.id


@dataclass(frozen=True)
class OutsideGenre:
    """A genre outside GTZAN's ten: its family, the strongest AudioSet class
    of it (``genre``, ``score``) and the strongest covered class's probability."""

    family: Genre
    genre: Genre
    score: float
    inside_score: float


@dataclass(frozen=True)
class Hearing:
    """Everything :func:`hear` found: ``heard`` (empty unless music),
    ``kind`` and ``outside`` (``None`` unless music and one is present)."""

    heard: tuple
    kind: SoundKind
    outside: OutsideGenre | None

    @property
    def id(self) -> str:
        return self.kind.id


def hear(scores: Mapping[str, float], names: Mapping[str, Genre] | Sequence[Genre] | None = None,
         peaks: Mapping[str, float] | None = None) -> Hearing:
    """Voices and instruments, kind of sound and outside genre of one clip.

    Parameters
    ----------
    scores : mapping
        AudioSet label id -> the clip's probability (mean over chunks);
        missing ids count as 0.
    names : mapping or sequence of Genre, optional
        Display names of the AudioSet ids (a model's ``genres``); default:
        the shipped ``audioset`` bundle's English and Chinese names.
    peaks : mapping, optional
        AudioSet label id -> highest chunk probability (see :func:`chunk_peaks`),
        for :func:`heard`; default ``scores``.
    """
    kind = what_is_it(scores)
    music = kind.id in ("music", "music_under_speech")
    return Hearing(heard=heard(scores if peaks is None else peaks, names) if music else (),
                   kind=kind,
                   outside=outside_ten(scores, names) if music else None)


def heard(scores: Mapping[str, float], names=None) -> tuple[Heard, ...]:
    """The voice (or "Instrumental", or nothing when unsure) then the
    strongest instruments present."""
    names = _names(names)
    p = _getter(scores)
    voices = [v for v in SPECIFIC_VOICES if p(v) >= PRESENT]
    singing = max([p(SINGING), *(p(v) for v in SPECIFIC_VOICES)])
    spoken = max(SPOKEN, key=p)
    if voices:
        best = max(voices, key=p)
        out = [Heard("voice", names(best), p(best))]
    elif p(SINGING) >= PRESENT:
        out = [Heard("voice", names(SINGING), p(SINGING))]
    elif p(spoken) >= PRESENT:
        out = [Heard("voice", SPOKEN_VOCALS, p(spoken))]
    elif max(singing, p(spoken)) < ABSENT:
        out = [Heard("instrumental", INSTRUMENTAL, 1.0 - max(singing, p(spoken)))]
    else:
        out = []
    present = [k for k in INSTRUMENTS if p(k) >= PRESENT]
    refined = {INSTRUMENTS[k] for k in present if INSTRUMENTS[k]}
    kept = sorted((k for k in present if k not in refined), key=lambda k: (-p(k), k))
    out += [Heard("instrument", names(k), p(k)) for k in kept]
    return tuple(out[:MAX_HEARD])


def what_is_it(scores: Mapping[str, float]) -> SoundKind:
    """Music, speech, music under speech, animal, nature, noise or silence."""
    p = _getter(scores)
    evidence = {kind: max(p(c) for c in classes) for kind, classes in KIND_CLASSES.items()}
    singing = max([p(SINGING), *(p(v) for v in SPECIFIC_VOICES)])
    by_id = {k.id: k for k in KINDS}
    speech, music = evidence["speech"], evidence["music"]
    if speech >= DOMINANT and music >= PRESENT and singing < speech:
        return SoundKind(by_id["music_under_speech"], min(speech, music), evidence)
    if music >= DOMINANT:
        return SoundKind(by_id["music"], music, evidence)
    best = max(evidence, key=lambda k: (evidence[k], k == "music"))
    if evidence[best] < PRESENT and best != "silence":
        best = "noise"
    return SoundKind(by_id[best], evidence[best], evidence)


def outside_ten(scores: Mapping[str, float], names=None) -> OutsideGenre | None:
    """The family of the strongest present genre class outside GTZAN's ten, if any."""
    names = _names(names)
    p = _getter(scores)
    best = max(((family, c) for family, classes in OUTSIDE_FAMILIES for c in classes),
               key=lambda fc: p(fc[1]))
    family, cls = best
    if p(cls) < PRESENT:
        return None
    return OutsideGenre(family, names(cls), p(cls), max(p(c) for c in INSIDE_TEN))


def chunk_peaks(labels: Sequence[str], chunk_scores) -> dict[str, float]:
    """``{label: highest probability over chunks}`` of an ``(n_chunks, n_labels)``
    array (:attr:`~genrescope.predict.Prediction.chunk_probabilities`)."""
    peak = np.asarray(chunk_scores, dtype=np.float64).max(axis=0)
    return {label: float(v) for label, v in zip(labels, peak)}


def used_ids() -> set[str]:
    """Every AudioSet id this module reads (tests check them against the bundle)."""
    ids = {SINGING, *SPECIFIC_VOICES, *SPOKEN, *INSTRUMENTS, *INSIDE_TEN}
    ids |= {c for classes in KIND_CLASSES.values() for c in classes}
    return ids | {c for _, classes in OUTSIDE_FAMILIES for c in classes}


def _getter(scores: Mapping[str, float]):
    return lambda label: float(scores.get(label, 0.0))


@lru_cache(maxsize=1)
def shipped_names() -> dict[str, Genre]:
    """English and Chinese names of the shipped ``audioset`` bundle's labels
    (empty when the bundle is missing)."""
    try:
        config = json.loads(SHIPPED_CONFIG.read_text(encoding="utf-8"))
    except (OSError, ValueError):
        return {}
    label_names = config.get("label_names") or {}
    return {k: genre(k, label_names) for k in config.get("labels", [])}


def _names(names):
    """``names`` as a function id -> Genre."""
    if names is None:
        table = shipped_names()
    elif isinstance(names, Mapping):
        table = names
    else:
        table = {g.id: g for g in names}
    return lambda label: table.get(label) or genre(label)
