"""Synthesise a set of recordings that are NOT music, for the not-music head.

Nothing is downloaded: speech comes from espeak-ng (several languages and
voices), everything else is made with numpy: white/pink/brown noise, sine
tones, telephone dial/busy/ringback tones and DTMF, silence and near-silence
with mains hum, birdsong-like chirps, traffic-like rumble with passing cars,
room noise (ventilation, hum, clicks, footsteps) and field-recording-like
mixes of these. Only this script is stored in the repository, not the audio.

    python tools/make_nonmusic.py OUT_DIR [--per-kind 20] [--seed 0]

writes ``OUT_DIR/<kind>.<nnnn>.wav`` (16 kHz mono, 10 s) and
``OUT_DIR/nonmusic.csv`` (``path,label,kind,split``). ``split`` is ``test``
for a held-out part: every fourth clip of each kind, and for speech every
clip of the held-out languages/voices (:data:`TEST_VOICES`), so the hit rate
is measured on voices the head never heard.
"""

from __future__ import annotations

import argparse
import csv
import shutil
import subprocess
import tempfile
from pathlib import Path

import numpy as np
import soundfile as sf

SR = 16000
DURATION_S = 10.0

TEXTS = {
    "en": ["The weather today will be cloudy with a chance of rain in the afternoon.",
           "Please remember to bring your ticket and a form of identification.",
           "In the next chapter we look at how the results were measured."],
    "de": ["Der Zug nach Berlin hat heute leider zwanzig Minuten Verspätung.",
           "Bitte schließen Sie die Türen und halten Sie Abstand."],
    "fr": ["Mesdames et messieurs, le magasin fermera dans quinze minutes.",
           "Nous avons discuté des résultats pendant toute la réunion."],
    "es": ["El próximo tren con destino a Madrid saldrá del andén tres.",
           "La reunión empieza a las diez y media de la mañana."],
    "it": ["Il museo è aperto tutti i giorni tranne il lunedì.",
           "Abbiamo parlato a lungo del nuovo progetto."],
    "cmn": ["今天的天气很好，我们一起去公园散步吧。", "请大家注意，会议将在十分钟后开始。"],
    "ja": ["本日は晴れのち曇り、午後から雨が降るでしょう。"],
    "ru": ["Следующая станция — Театральная. Осторожно, двери закрываются."],
    "pt": ["A biblioteca fica aberta até às oito horas da noite."],
    "hi": ["आज का मौसम साफ रहेगा और तापमान बढ़ेगा।"],
    "ar": ["مرحبا بكم في نشرة الأخبار المسائية."],
    "nl": ["De vergadering begint om tien uur in de grote zaal."],
}
VOICES = [("en-us", "m3"), ("en-gb", "f2"), ("de", "m1"), ("fr-fr", "f3"), ("es", "m2"),
          ("it", "f1"), ("cmn", "m1"), ("cmn", "f4"), ("ja", "m3"), ("ru", "f2"),
          ("pt", "m4"), ("hi", "f1"), ("ar", "m2"), ("nl", "f3")]
#: Voices whose clips are all held out (test split).
TEST_VOICES = {("en-gb", "f2"), ("cmn", "f4"), ("ru", "f2"), ("nl", "f3")}
KINDS = ("speech", "noise", "tone", "telephone", "silence", "birds", "traffic", "room", "field")


def _norm(y: np.ndarray, level_db: float) -> np.ndarray:
    rms = np.sqrt(np.mean(y ** 2)) + 1e-12
    return (y / rms * 10 ** (level_db / 20)).astype(np.float32)


def _coloured(rng, n: int, exponent: float) -> np.ndarray:
    """Noise with power ~ 1/f**exponent (0 white, 1 pink, 2 brown)."""
    spec = np.fft.rfft(rng.standard_normal(n))
    f = np.fft.rfftfreq(n, 1 / SR)
    f[0] = f[1]
    return np.fft.irfft(spec / f ** (exponent / 2), n)


def _lowpass(y: np.ndarray, cutoff_hz: float) -> np.ndarray:
    spec = np.fft.rfft(y)
    spec[np.fft.rfftfreq(len(y), 1 / SR) > cutoff_hz] = 0
    return np.fft.irfft(spec, len(y))


def _t(n=None):
    return np.arange(n or int(SR * DURATION_S)) / SR


def speech(rng, voice, variant) -> np.ndarray:
    """espeak-ng utterances with pauses, 10 s."""
    lang = voice.split("-")[0]
    texts = TEXTS.get(lang, TEXTS["en"])
    out = np.zeros(0, np.float32)
    with tempfile.TemporaryDirectory() as tmp:
        while len(out) < SR * DURATION_S:
            wav = Path(tmp) / "s.wav"
            text = texts[int(rng.integers(len(texts)))]
            subprocess.run(["espeak-ng", "-v", f"{voice}+{variant}", "-s",
                            str(int(rng.integers(130, 200))), "-p", str(int(rng.integers(30, 70))),
                            "-w", str(wav), text], check=True, capture_output=True)
            y, sr = sf.read(wav, dtype="float32")
            import librosa

            y = librosa.resample(y, orig_sr=sr, target_sr=SR)
            pause = np.zeros(int(SR * rng.uniform(0.2, 1.0)), np.float32)
            out = np.concatenate([out, y, pause])
    y = _norm(out[:int(SR * DURATION_S)], rng.uniform(-30, -16))
    if rng.random() < 0.5:                        # a room behind the voice
        y = y + _norm(_coloured(rng, len(y), 1.0), rng.uniform(-60, -40))
    return y


def noise(rng) -> np.ndarray:
    return _norm(_coloured(rng, int(SR * DURATION_S), float(rng.choice([0.0, 1.0, 2.0]))),
                 rng.uniform(-40, -12))


def tone(rng) -> np.ndarray:
    t = _t()
    f = rng.uniform(80, 4000)
    y = np.sin(2 * np.pi * f * t)
    if rng.random() < 0.5:                        # a slow sweep instead
        f1 = rng.uniform(50, 8000)
        y = np.sin(2 * np.pi * np.cumsum(np.geomspace(f, f1, len(t))) / SR)
    return _norm(y, rng.uniform(-30, -10))


def telephone(rng) -> np.ndarray:
    t = _t()
    which = rng.integers(4)
    if which == 0:                                # dial tone (US / EU)
        pair = [(350, 440), (425, 425), (350, 450)][int(rng.integers(3))]
        y = np.sin(2 * np.pi * pair[0] * t) + np.sin(2 * np.pi * pair[1] * t)
    elif which == 1:                              # busy: 0.5 s on, 0.5 s off
        y = (np.sin(2 * np.pi * 480 * t) + np.sin(2 * np.pi * 620 * t)) * ((t % 1.0) < 0.5)
    elif which == 2:                              # ringback: 2 s on, 4 s off
        y = (np.sin(2 * np.pi * 440 * t) + np.sin(2 * np.pi * 480 * t)) * ((t % 6.0) < 2.0)
    else:                                         # DTMF digits
        rows, cols = (697, 770, 852, 941), (1209, 1336, 1477)
        y = np.zeros_like(t)
        step = int(SR * 0.2)
        for start in range(0, len(t) - step, step * 2):
            seg = t[start:start + step]
            y[start:start + step] = (np.sin(2 * np.pi * rows[rng.integers(4)] * seg)
                                     + np.sin(2 * np.pi * cols[rng.integers(3)] * seg))
    return _norm(y + 1e-3 * rng.standard_normal(len(t)), rng.uniform(-30, -12))


def silence(rng) -> np.ndarray:
    n = int(SR * DURATION_S)
    which = rng.integers(3)
    if which == 0:
        return np.zeros(n, np.float32)
    if which == 1:
        return _norm(rng.standard_normal(n), rng.uniform(-80, -60))
    t = _t()
    mains = float(rng.choice([50.0, 60.0]))
    hum = sum(np.sin(2 * np.pi * mains * k * t) / k for k in (1, 2, 3))
    return _norm(hum + 0.1 * rng.standard_normal(n), rng.uniform(-60, -40))


def birds(rng) -> np.ndarray:
    """Chirps: short frequency sweeps with a harmonic, in bursts, over wind."""
    n = int(SR * DURATION_S)
    y = _norm(_lowpass(_coloured(rng, n, 1.0), 2000), rng.uniform(-55, -40))
    for _ in range(int(rng.integers(15, 60))):
        dur = rng.uniform(0.03, 0.25)
        m = int(SR * dur)
        start = int(rng.integers(0, n - m))
        f0, f1 = rng.uniform(2000, 7000, size=2)
        f = np.linspace(f0, f1, m) + rng.uniform(0, 600) * np.sin(
            2 * np.pi * rng.uniform(20, 80) * np.arange(m) / SR)
        phase = 2 * np.pi * np.cumsum(f) / SR
        chirp = (np.sin(phase) + 0.3 * np.sin(2 * phase)) * np.hanning(m)
        y[start:start + m] += _norm(chirp, rng.uniform(-35, -20))
    return y.astype(np.float32)


def traffic(rng) -> np.ndarray:
    """Low rumble, cars passing (swelling band noise), now and then a horn."""
    n = int(SR * DURATION_S)
    t = _t()
    y = _norm(_lowpass(_coloured(rng, n, 2.0), 500), -35)
    for _ in range(int(rng.integers(2, 6))):
        centre, width = rng.uniform(0, DURATION_S), rng.uniform(0.8, 3.0)
        env = np.exp(-0.5 * ((t - centre) / width) ** 2)
        y += _norm(_lowpass(_coloured(rng, n, 1.0), rng.uniform(800, 3000)), -25) * env
    if rng.random() < 0.3:
        start = int(rng.integers(0, n - SR))
        f = rng.uniform(300, 500)
        seg = t[:int(SR * rng.uniform(0.3, 0.8))]
        y[start:start + len(seg)] += _norm(np.sign(np.sin(2 * np.pi * f * seg)), -28)
    return _norm(y, rng.uniform(-35, -15))


def room(rng) -> np.ndarray:
    """Ventilation, mains hum, clicks, footsteps, a door."""
    n = int(SR * DURATION_S)
    t = _t()
    y = _norm(_lowpass(_coloured(rng, n, 1.0), rng.uniform(1000, 6000)), -45)
    y += _norm(np.sin(2 * np.pi * float(rng.choice([50.0, 60.0])) * t), -55)
    for _ in range(int(rng.integers(3, 30))):          # clicks, keys, steps
        start = int(rng.integers(0, n - 800))
        m = int(rng.integers(40, 800))
        y[start:start + m] += _norm(rng.standard_normal(m) * np.exp(-np.arange(m) / (m / 5)),
                                    rng.uniform(-40, -20))
    return _norm(y, rng.uniform(-45, -25))


def field(rng, voice, variant) -> np.ndarray:
    """Field-recording-like mixes: traffic or room with speech, birds or both."""
    base = traffic(rng) if rng.random() < 0.5 else room(rng)
    parts = [base]
    if rng.random() < 0.7:
        parts.append(speech(rng, voice, variant))
    if rng.random() < 0.6:
        parts.append(birds(rng))
    y = sum(_norm(p, rng.uniform(-32, -20)) for p in parts)
    return _norm(y, rng.uniform(-30, -15))


def generate(out: str | Path, per_kind: int = 20, seed: int = 0,
             kinds: tuple = KINDS, duration_s: float | None = None) -> list[dict]:
    """Write the clips and ``nonmusic.csv``; return its rows.

    ``duration_s`` shortens the clips (default :data:`DURATION_S`; tests).

    Returns
    -------
    list of dict
        ``path``, ``label`` (``not_music``), ``kind``, ``split`` (train/test).
    """
    out = Path(out)
    out.mkdir(parents=True, exist_ok=True)
    have_espeak = shutil.which("espeak-ng") is not None
    rows = []
    for kind in kinds:
        if kind in ("speech", "field") and not have_espeak:
            raise RuntimeError("espeak-ng is needed for speech (apt-get install espeak-ng)")
        for i in range(per_kind):
            rng = np.random.default_rng([seed, KINDS.index(kind), i])
            voice, variant = VOICES[i % len(VOICES)]
            if kind == "speech":
                y = speech(rng, voice, variant)
                test = (voice, variant) in TEST_VOICES
            elif kind == "field":
                y = field(rng, voice, variant)
                test = (voice, variant) in TEST_VOICES
            else:
                y = globals()[kind](rng)
                test = i % 4 == 3
            if duration_s:
                y = y[:int(SR * duration_s)]
            path = out / f"{kind}.{i:04d}.wav"
            sf.write(path, np.clip(y, -1, 1), SR, subtype="PCM_16")
            rows.append({"path": str(path.resolve()), "label": "not_music", "kind": kind,
                         "split": "test" if test else "train"})
    write_listing(out / "nonmusic.csv", rows)
    return rows


def write_listing(path: Path, rows: list[dict]) -> None:
    """The clips' CSV (one row per clip, the columns of the first row)."""
    with open(path, "w", newline="", encoding="utf-8") as f:
        writer = csv.DictWriter(f, list(rows[0]) if rows else ["path"])
        writer.writeheader()
        writer.writerows(rows)


def main(argv=None) -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("out")
    ap.add_argument("--per-kind", type=int, default=20)
    ap.add_argument("--seed", type=int, default=0)
    args = ap.parse_args(argv)
    rows = generate(args.out, args.per_kind, args.seed)
    print(f"{len(rows)} clips ({sum(r['split'] == 'test' for r in rows)} held out) in {args.out}")


if __name__ == "__main__":
    main()
