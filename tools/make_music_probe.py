"""Synthesise music the not-music head must NOT flag: solo instruments,
singing, a cappella and quiet classical-style pieces.

Every clip is a short piece in a random key: a melody built from scale steps
and chord tones in 4-bar phrases that end on the tonic, a rhythm in a metre,
phrase dynamics (swell and fade, accented downbeats) and a little reverb.
Pure numpy, deterministic from the seed; nothing is downloaded and only this
script is stored in the repository, not the audio.

    python tools/make_music_probe.py OUT_DIR [--per-kind 8] [--seed 0]

writes ``OUT_DIR/<kind>.<nnnn>.wav`` (16 kHz mono, 10 s) and
``OUT_DIR/music_probe.csv`` (``path,kind``). See :data:`KINDS`.
"""

from __future__ import annotations

import argparse
from pathlib import Path

import numpy as np
import soundfile as sf
from make_nonmusic import write_listing

SR = 16000
DURATION_S = 10.0
KINDS = ("piano", "guitar", "violin", "flute", "singing", "a_cappella",
         "quiet_piano", "quiet_strings")
#: RMS level of the quiet kinds, dBFS.
QUIET_DB = -30.0
MAJOR, MINOR = (0, 2, 4, 5, 7, 9, 11), (0, 2, 3, 5, 7, 8, 10)
#: Chords as scale degrees of the root (I, IV, V, vi, ii).
PROGRESSIONS = ((0, 3, 4, 0), (0, 5, 3, 4), (0, 3, 1, 4), (5, 3, 0, 4))
#: Formants (Hz) and bandwidths of sung vowels a, e, i, o, u; the higher
#: voices get them scaled up (see :func:`voice`).
VOWELS = {"a": ((800, 80), (1150, 90), (2900, 120), (3900, 130)),
          "e": ((400, 60), (1900, 100), (2600, 120), (3500, 130)),
          "i": ((300, 50), (2200, 100), (3000, 120), (3700, 130)),
          "o": ((450, 70), (800, 80), (2830, 100), (3500, 130)),
          "u": ((350, 60), (650, 80), (2700, 100), (3400, 120))}


def _hz(midi):
    return 440.0 * 2 ** ((np.asarray(midi, float) - 69) / 12)


def _level(y: np.ndarray, db: float) -> np.ndarray:
    return (y / (np.sqrt(np.mean(y ** 2)) + 1e-12) * 10 ** (db / 20)).astype(np.float32)


class Score:
    """A key, metre and tempo; melody and chords for a piece.

    Parameters
    ----------
    rng : np.random.Generator
    low, high : int
        MIDI range of the melody.
    duration_s : float
    """

    def __init__(self, rng, low: int, high: int, duration_s: float):
        self.rng, self.duration_s = rng, duration_s
        self.scale = MAJOR if rng.random() < 0.65 else MINOR
        self.tonic = int(rng.integers(low, low + 12))     # melody starts near its bottom
        self.beat_s = 60.0 / rng.uniform(66, 112)
        self.meter = int(rng.choice([3, 4]))
        self.bar_s = self.beat_s * self.meter
        self.chords = PROGRESSIONS[int(rng.integers(len(PROGRESSIONS)))]
        self.low, self.high = low, high

    def pitch(self, degree: int) -> int:
        """MIDI note of a scale degree (any integer) above the tonic."""
        octave, step = divmod(degree, 7)
        return self.tonic + 12 * octave + self.scale[step]

    def chord(self, t_s: float) -> int:
        """Root degree of the chord sounding at ``t_s``."""
        return self.chords[int(t_s // self.bar_s) % len(self.chords)]

    def melody(self, legato: float = 0.95):
        """Notes ``(start_s, dur_s, midi, velocity)``: a random walk on the scale,
        a chord tone on each downbeat, every 4th bar a cadence (the chord's root
        held, then a breath), dynamics swelling over each 4-bar phrase."""
        rng, notes, degree = self.rng, [], int(self.rng.choice([0, 2, 4]))
        patterns = {3: ([1, 1, 1], [2, 1], [1.5, 0.5, 1], [0.5, 0.5, 2], [1, 0.5, 0.5, 1]),
                    4: ([1, 1, 1, 1], [2, 1, 1], [1.5, 0.5, 1, 1], [0.5, 0.5, 1, 2],
                        [1, 0.5, 0.5, 2], [3, 1])}[self.meter]
        for bar in range(int(np.ceil(self.duration_s / self.bar_s))):
            t = bar * self.bar_s
            root, cadence = self.chord(t), bar % 4 == 3
            beats = [self.meter - 1] if cadence else patterns[int(rng.integers(len(patterns)))]
            for i, b in enumerate(beats):                           # cadence: then a breath
                if i == 0:                                          # nearest chord tone
                    tones = (0,) if cadence else (0, 2, 4)
                    degree = min((root + c + 7 * o for c in tones for o in (-1, 0, 1, 2)),
                                 key=lambda d: abs(d - degree))
                else:
                    degree += int(rng.choice([-2, -1, -1, 1, 1, 2, 0, 3, -3]))
                while self.pitch(degree) > self.high:
                    degree -= 7
                while self.pitch(degree) < self.low:
                    degree += 7
                pos = (bar % 4 + (t - bar * self.bar_s) / self.bar_s) / 4
                vel = (0.55 + 0.35 * np.sin(np.pi * pos)) * (1.15 if i == 0 else 1.0)
                vel = float(np.clip(vel * rng.uniform(0.9, 1.1), 0.2, 1))
                notes.append((t, b * self.beat_s * legato, self.pitch(degree), vel))
                t += b * self.beat_s
        return notes

    def harmony(self, voices: int = 3, low: int = 45):
        """Block chords, one per bar: ``voices`` lists of notes, bass first."""
        out = [[] for _ in range(voices)]
        for bar in range(int(np.ceil(self.duration_s / self.bar_s))):
            t = bar * self.bar_s
            root = self.chord(t)
            for v in range(voices):
                degree = root + (0, 4, 2, 4, 7)[v] + (7 if v >= 3 else 0)
                m = self.pitch(degree - 14)
                while m < low + 7 * v:
                    m += 12
                out[v].append((t, self.bar_s * 0.98, m, 0.6))
        return out


def reverb(rng, y: np.ndarray, rt60_s: float = 1.2, wet: float = 0.25) -> np.ndarray:
    """A room: convolution with exponentially decaying noise."""
    n = int(SR * rt60_s)
    ir = rng.standard_normal(n) * np.exp(-6.9 * np.arange(n) / n)
    ir[:int(0.01 * SR)] = 0                               # pre-delay
    m = len(y) + n
    w = np.fft.irfft(np.fft.rfft(y, m) * np.fft.rfft(ir / np.sqrt(np.sum(ir ** 2)), m), m)
    return (1 - wet) * y + wet * w[:len(y)] * np.std(y) / (np.std(w) + 1e-12)


def piano_note(rng, f: float, dur_s: float, vel: float) -> np.ndarray:
    """Inharmonic partials, faster decay up high, damper at the key release."""
    n = int(SR * (dur_s + 0.25))
    t = np.arange(n) / SR
    b = rng.uniform(1e-4, 4e-4)
    y = np.zeros(n)
    for k in range(1, min(30, int(7000 / f)) + 1):
        fk = k * f * np.sqrt(1 + b * k * k)
        decay = 0.6 + 0.25 * k + f / 400
        amp = vel ** (1 + k / 8) / k ** 1.1
        y += amp * np.sin(2 * np.pi * fk * t + rng.uniform(0, 6.3)) * (
            0.7 * np.exp(-decay * t) + 0.3 * np.exp(-decay * t / 6))
    y *= np.clip((dur_s + 0.25 - t) / 0.25, 0, 1)           # damper
    y[:64] *= np.linspace(0, 1, 64)
    return y


def pluck(rng, f: float, dur_s: float, vel: float) -> np.ndarray:
    """Karplus-Strong string, tuned exactly by resampling the integer-delay loop."""
    period = int(SR / f)
    n = int(SR * (dur_s + 0.4) * 1.05) + 2 * period
    y = np.zeros(n + 1)                                 # y[0]: the zero before the start
    y[1:period + 1] = np.convolve(rng.uniform(-1, 1, period), [0.5, 0.5], "same") * vel
    loss = 0.996 ** (220 / f)
    for s in range(period + 1, n + 1, period):          # one period per step
        m = min(period, n + 1 - s)
        prev = y[s - period - 1:s - period + m]
        y[s:s + m] = loss * 0.5 * (prev[1:] + prev[:-1])
    ratio = (SR / (period + 0.5)) / f                   # actual / wanted pitch
    idx = np.arange(int(SR * (dur_s + 0.3))) * ratio
    return np.interp(idx, np.arange(n), y[1:]) * np.clip(
        (dur_s + 0.3 - np.arange(len(idx)) / SR) / 0.3, 0, 1)


def _legato_f0(rng, notes, n: int, depth: float, glide_s: float = 0.04) -> np.ndarray:
    """Pitch contour (Hz) of legato notes: short glides between them, a
    vibrato of relative ``depth`` that sets in over 0.3 s after each onset."""
    midi, onset = np.full(n, float(notes[0][2])), np.zeros(n)
    for start, _, m, _ in notes:
        midi[int(start * SR):], onset[int(start * SR):] = m, start
    t, k = np.arange(n) / SR, int(glide_s * SR)
    vib = depth * np.sin(2 * np.pi * rng.uniform(4.8, 6.2) * t) * np.clip((t - onset) / 0.3, 0, 1)
    glided = np.convolve(np.r_[np.full(k, midi[0]), midi], np.ones(k) / k, "valid")[:n]
    return _hz(glided) * (1 + vib)


def _envelope(notes, n: int, attack_s: float, release_s: float) -> np.ndarray:
    """Amplitude of a legato line: each note's velocity, a ramp in and out
    that dips (not to zero) between tied notes, smoothed over 20 ms."""
    env = np.zeros(n)
    for start, dur, _, vel in notes:
        a, b = int(start * SR), min(n, int((start + dur) * SR))
        t = np.arange(max(b - a, 0)) / SR
        shape = np.clip(np.minimum(t / attack_s, (dur - t) / release_s), 0, 1)
        env[a:b] = np.maximum(env[a:b], vel * (0.4 + 0.6 * shape))
    k = int(0.02 * SR)
    return np.convolve(env, np.ones(k) / k, "same")


def sustained(rng, notes, n: int, kind: str) -> np.ndarray:
    """A bowed string (rich harmonics, bow noise) or flute (few harmonics,
    breath noise): one continuous legato line with delayed vibrato."""
    depth = rng.uniform(0.008, 0.014) if kind == "violin" else rng.uniform(0.005, 0.01)
    f0 = _legato_f0(rng, notes, n, depth)
    phase = 2 * np.pi * np.cumsum(f0) / SR
    if kind == "violin":
        y = sum(np.sin(k * phase) / k * (1.4 if 3 <= k <= 6 else 1.0)
                for k in range(1, int(6000 / f0.max()) + 1))
        breath = 0.01
    else:
        y = np.sin(phase) + 0.25 * np.sin(2 * phase) + 0.08 * np.sin(3 * phase)
        breath = 0.03
    noise = np.convolve(rng.standard_normal(n), np.hanning(9), "same") * breath
    return (y + noise) * _envelope(notes, n, 0.08, 0.1)


def voice(rng, notes, n: int, register: str, vowel_seq: str) -> np.ndarray:
    """A sung line: glottal harmonics shaped by vowel formants (one vowel per
    note, gliding), delayed vibrato, jitter, a soft consonant at some onsets."""
    f0 = _legato_f0(rng, notes, n, rng.uniform(0.02, 0.035), 0.06) * (1 + 0.002 * np.convolve(
        rng.standard_normal(n), np.ones(400) / 20, "same"))     # jitter
    scale = {"bass": 0.95, "tenor": 1.0, "alto": 1.08, "soprano": 1.15}[register]
    which = np.zeros(n, int)
    for i, (start, *_rest) in enumerate(notes):
        which[int(start * SR):] = "aeiou".index(vowel_seq[i % len(vowel_seq)])
    k, hop = int(0.05 * SR), 16                                  # vowel glide; gain grid
    weights = [np.convolve((which == v).astype(float), np.ones(k) / k, "same")[::hop]
               for v in range(5)]
    y = np.zeros(n)
    phase = 2 * np.pi * np.cumsum(f0) / SR
    for h in range(1, int(5000 / f0.min()) + 1):
        fh = h * f0[::hop]
        gain = sum(w * sum(10 ** (-0.3 * j) / np.sqrt(1 + ((fh - fc * scale) / (bw * scale)) ** 2)
                           for j, (fc, bw) in enumerate(VOWELS[key]))
                   for w, key in zip(weights, "aeiou")) * (fh < 5000)
        y += np.repeat(gain, hop)[:n] * np.sin(h * phase) / h
    env = _envelope(notes, n, 0.06, 0.12)
    hiss = np.diff(rng.standard_normal(n + 1)) * 0.02            # breathiness
    for start, *_rest in notes:                                  # "s", "t", "l"-like onsets
        a = int(start * SR)
        if rng.random() < 0.4 and 800 < a <= n:
            hiss[a - 800:a] += np.diff(rng.standard_normal(801)) * np.hanning(800) * 0.3
    return y * env + hiss * np.maximum(env, np.convolve(env, np.ones(800) / 800, "same"))


def _place(n, notes, make) -> np.ndarray:
    """Sum of ``make(f_hz, dur_s, velocity)`` placed at each note's start."""
    y = np.zeros(n)
    for start, dur, m, vel in notes:
        a = int(start * SR)
        if a < n:
            s = make(float(_hz(m)), dur, vel)[:n - a]
            y[a:a + len(s)] += s
    return y


def make(kind: str, rng, duration_s: float = DURATION_S) -> np.ndarray:
    """One clip of ``kind`` (see :data:`KINDS`), mono float32 at :data:`SR`."""
    n = int(SR * duration_s)
    base = kind.removeprefix("quiet_")
    if base == "piano":
        sc = Score(rng, 60, 84, duration_s)
        left = []
        for bass, *upper in zip(*sc.harmony(3, low=43)):         # Alberti-like bass
            t0, dur = bass[0], bass[1]
            seq = [bass, upper[1], upper[0], upper[1]] * sc.meter
            step = dur / len(seq) * 2
            left += [(t0 + i * step, step * 1.5, nt[2], 0.45)
                     for i, nt in enumerate(seq[:int(dur / step)])]
        parts = [_place(n, notes, lambda f, d, v: piano_note(rng, f, d, v))
                 for notes in (sc.melody(), left)]
    elif base == "guitar":
        sc = Score(rng, 55, 79, duration_s)
        picks = []
        for bass, third, fifth in zip(*sc.harmony(3, low=40)):
            t0, step = bass[0], sc.beat_s / 2
            order = [bass, fifth, third, fifth, third, fifth, bass, fifth][:2 * sc.meter]
            picks += [(t0 + i * step, 0.8, nt[2] + (12 if i else 0), 0.5)
                      for i, nt in enumerate(order)]
        mel = sc.melody(legato=1.0) if rng.random() < 0.6 else []
        parts = [_place(n, notes, lambda f, d, v: pluck(rng, f, d, v)) for notes in (picks, mel)]
    elif base in ("violin", "flute"):
        sc = Score(rng, 62 if base == "violin" else 67, 88, duration_s)
        parts = [sustained(rng, sc.melody(1.0), n, base)]
    elif kind == "quiet_strings":                                # a quartet: melody + chords
        sc = Score(rng, 62, 84, duration_s)
        parts = [sustained(rng, notes, n, "violin") * (1.0 if i == 0 else 0.5)
                 for i, notes in enumerate([sc.melody(1.0)] + sc.harmony(3, low=43))]
    elif kind == "singing":
        register = str(rng.choice(["bass", "tenor", "alto", "soprano"]))
        low = {"bass": 43, "tenor": 50, "alto": 55, "soprano": 62}[register]
        sc = Score(rng, low, low + 17, duration_s)
        vowels = "".join(rng.choice(list("aeiou"), 8))
        parts = [voice(rng, sc.melody(0.9), n, register, vowels)]
    elif kind == "a_cappella":
        sc = Score(rng, 62, 79, duration_s)
        vowels = "".join(rng.choice(list("aaeoou"), 8))
        parts = [voice(rng, sc.melody(0.9), n, "soprano", vowels)]
        for notes, reg in zip(sc.harmony(int(rng.integers(2, 4)), low=43),
                              ("bass", "tenor", "alto")):
            parts.append(0.7 * voice(rng, notes, n, reg, vowels[::-1]))
    else:
        raise ValueError(f"unknown kind {kind!r}; known: {', '.join(KINDS)}")
    rt60_s = {"guitar": 0.7, "a_cappella": 1.8}.get(kind, 1.3) * rng.uniform(0.7, 1.4)
    y = reverb(rng, sum(parts), rt60_s, rng.uniform(0.15, 0.35))
    return _level(y, QUIET_DB if kind.startswith("quiet_") else rng.uniform(-24, -16))


def generate(folder: str | Path, per_kind: int = 8, seed: int = 0, kinds: tuple = KINDS,
             duration_s: float = DURATION_S) -> list[dict]:
    """Write ``per_kind`` clips of each kind and ``music_probe.csv``.

    Returns
    -------
    list of dict
        ``path`` (absolute) and ``kind`` of each clip.
    """
    folder = Path(folder)
    folder.mkdir(parents=True, exist_ok=True)
    rows = []
    for kind in kinds:
        for i in range(per_kind):
            rng = np.random.default_rng([seed, KINDS.index(kind), i])
            path = folder / f"{kind}.{i:04d}.wav"
            sf.write(path, np.clip(make(kind, rng, duration_s), -1, 1), SR, subtype="PCM_16")
            rows.append({"path": str(path.resolve()), "kind": kind})
    write_listing(folder / "music_probe.csv", rows)
    return rows


def main(argv=None) -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("out")
    ap.add_argument("--per-kind", type=int, default=8)
    ap.add_argument("--seed", type=int, default=0)
    args = ap.parse_args(argv)
    rows = generate(args.out, args.per_kind, args.seed)
    print(f"{len(rows)} clips in {args.out}")


if __name__ == "__main__":
    main()
