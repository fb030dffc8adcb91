"""Helpers for the library tests: folders of synthesised music, written by the test."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import soundfile as sf

from genrescope.synth import chord, groove, noise_burst, sweep

SR = 22050


def track(i: int, duration_s: float = 4.0) -> np.ndarray:
    """The i-th synthetic track: four families (chords, grooves, sweeps, noise),
    each varied by ``i`` so every file has different content."""
    kind = i % 4
    if kind == 0:
        return chord(duration_s, SR, root_hz=110.0 * (1 + (i // 4) * 0.125))
    if kind == 1:
        return groove(duration_s, SR, bpm=90.0 + 7 * (i // 4))
    if kind == 2:
        return sweep(duration_s, SR, f0_hz=50.0 + 10 * (i // 4))
    return noise_burst(duration_s, SR, seed=3 + i)


def music_folder(root: Path, n: int, duration_s: float = 4.0) -> list[Path]:
    """``n`` WAV tracks in ``root`` (and a sub-folder for every 4th one)."""
    paths = []
    for i in range(n):
        folder = root / "sub" if i % 4 == 3 else root
        folder.mkdir(parents=True, exist_ok=True)
        path = folder / f"track{i:02d}.wav"
        sf.write(path, track(i, duration_s), SR)
        paths.append(path)
    return paths
