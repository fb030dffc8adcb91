"""Synthetic audio: demo clips for the web page and inputs for the tests.

Deterministic (fixed seeds), pure numpy, mono float32 in [-1, 1].
"""

from __future__ import annotations

import numpy as np


def chord(duration_s: float = 5.0, sr: int = 22050, *, root_hz: float = 220.0,
          seed: int = 0) -> np.ndarray:
    """A slow string-like chord progression (harmonics, vibrato, soft attack)."""
    rng = np.random.default_rng(seed)
    t = np.arange(int(duration_s * sr)) / sr
    y = np.zeros_like(t)
    progression = [(0, 4, 7), (5, 9, 12), (7, 11, 14), (0, 4, 7)]
    seg = max(duration_s / len(progression), 1e-3)
    vibrato = 1 + 0.004 * np.sin(2 * np.pi * 5.5 * t)
    for k, steps in enumerate(progression):
        on = np.flatnonzero((t >= k * seg) & (t < (k + 1) * seg))    # the envelope is 0 elsewhere
        part = t[on]
        env = np.clip((part - k * seg) / 0.3, 0, 1) * np.clip(((k + 1) * seg - part) / 0.3, 0, 1)
        for s in steps:
            f = root_hz * 2 ** (s / 12) * vibrato
            phase = (2 * np.pi * np.cumsum(f) / sr + rng.uniform(0, 2 * np.pi))[on]
            for h in range(1, 8):
                y[on] += env * np.sin(h * phase) / h ** 1.3
    return _normalise(y, 0.5)


def groove(duration_s: float = 5.0, sr: int = 22050, *, bpm: float = 120.0,
           seed: int = 1) -> np.ndarray:
    """A drum-like groove: kick, snare noise bursts, hi-hats and a bass line."""
    rng = np.random.default_rng(seed)
    n = int(duration_s * sr)
    t = np.arange(n) / sr
    y = np.zeros(n)
    beat = 60.0 / bpm
    for i, start in enumerate(np.arange(0, duration_s, beat / 2)):
        a = int(start * sr)
        m = min(n - a, int(0.25 * sr))
        if m <= 0:
            break
        tt = np.arange(m) / sr
        if i % 4 == 0:                              # kick
            y[a:a + m] += np.sin(2 * np.pi * (50 + 100 * np.exp(-tt * 30)) * tt) * np.exp(-tt * 12)
        if i % 4 == 2:                              # snare
            y[a:a + m] += 0.6 * rng.standard_normal(m) * np.exp(-tt * 20)
        y[a:a + m] += 0.15 * rng.standard_normal(m) * np.exp(-tt * 80)   # hi-hat
    bass_notes = 55.0 * 2 ** (np.array([0, 0, 3, 5]) / 12)
    idx = (t // (2 * beat)).astype(int) % len(bass_notes)
    y += 0.4 * np.sign(np.sin(2 * np.pi * np.cumsum(bass_notes[idx]) / sr)) * 0.5
    return _normalise(y, 0.6)


def sweep(duration_s: float = 5.0, sr: int = 22050, *, f0_hz: float = 50.0,
          f1_hz: float = 8000.0) -> np.ndarray:
    """A logarithmic sine sweep from ``f0_hz`` to ``f1_hz``."""
    t = np.arange(int(duration_s * sr)) / sr
    k = np.log(f1_hz / f0_hz) / max(duration_s, 1e-9)
    return (0.5 * np.sin(2 * np.pi * f0_hz * (np.exp(k * t) - 1) / k)).astype(np.float32)


def noise_burst(duration_s: float = 5.0, sr: int = 22050, *, seed: int = 2) -> np.ndarray:
    """Decaying white-noise bursts every half second (percussive texture)."""
    rng = np.random.default_rng(seed)
    t = np.arange(int(duration_s * sr)) / sr
    return _normalise(rng.standard_normal(len(t)) * np.exp(-(t % 0.5) * 15), 0.5)


DEMOS = {"string_chords": chord, "drum_groove": groove, "sine_sweep": sweep}


def _normalise(y: np.ndarray, peak: float) -> np.ndarray:
    m = float(np.max(np.abs(y))) if len(y) else 0.0
    return (y * (peak / m) if m > 0 else y).astype(np.float32)
