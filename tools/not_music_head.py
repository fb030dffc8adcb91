"""The default model's not-music head, for ``tools/build_default_model.py``.

A linear music / not-music classifier on the same per-patch embeddings as
the genre head. Its non-music side is synthesised by ``tools/make_nonmusic.py``
(speech in many voices, noises, tones, birds, traffic, rooms, silence); its
music side is the training music, the same music 20/30/40 dB quieter (so that
a pianissimo recording is not "near-silence") and synthesised solo
instruments, singing and a cappella (``tools/make_music_probe.py``, another
seed than ``benchmarks/music_false_alarms.py`` uses). False alarms are
measured by grouped cross-validation over the music, the hit rate on the
held-out part of the non-music set.
"""

from __future__ import annotations

import csv
from pathlib import Path

import numpy as np
import torch

from genrescope.cache import cache_dir
from genrescope.dataset import LabelledFile, grouped_folds
from genrescope.training.common import head_clip_means
from genrescope.training.head import BASE_MODEL, HEAD_DEFAULTS, base_embeddings, fit_head

#: Clip-mean probability at which the note shows.
NOT_MUSIC_THRESHOLD = 0.5
#: The training music, this much quieter (dB), is music too.
QUIET_DB = (20.0, 30.0, 40.0)


def base_representation() -> dict:
    """The one front end of the base models."""
    from genrescope.models.registry import resolve

    reps = [resolve(name).config.representation for name in BASE_MODEL]
    assert all(r == reps[0] for r in reps), "the base models need one front end"
    return reps[0]


def fit_default(x, y, x_val, y_val_files, val_groups, n_labels, hidden, seed, epochs=None,
                patience=None):
    """:func:`~genrescope.training.head.fit_head` with ``HEAD_DEFAULTS``, on the CPU."""
    hp = dict(HEAD_DEFAULTS)
    head, best_epoch, history, interrupted = fit_head(
        x, y, x_val, y_val_files, val_groups, n_labels, hidden=hidden, dropout=hp["dropout"],
        epochs=epochs or hp["epochs"], batch_size=hp["batch_size"], lr=hp["lr"],
        weight_decay=hp["weight_decay"], patience=patience or hp["patience"], seed=seed,
        device=torch.device("cpu"))
    if interrupted:
        raise KeyboardInterrupt
    return head, best_epoch


def quiet_copies(items, folder: Path, quiet_db, duration_s, cache, progress, reuse,
                 level) -> dict:
    """{dB: {item: per-patch embeddings}} of each music file attenuated by dB
    (decoded at the base's rate, scaled, written as float WAV, embedded)."""
    import soundfile as sf

    from genrescope.audio import load_audio

    sr = int(base_representation()["sr"])
    out = {}
    for db in quiet_db:
        sub = folder / f"minus{db:g}dB"
        sub.mkdir(parents=True, exist_ok=True)
        copies = []
        for item in items:
            target = sub / f"{item.path.parent.name}--{item.path.stem}.wav"
            if not (reuse and target.is_file()):      # kept files keep their cache entries
                y = load_audio(item.path, sr, duration_s=duration_s).y
                sf.write(target, y * 10 ** (-db / 20), sr, subtype="FLOAT")
            copies.append(LabelledFile(item.label, target))
        _, arrays, kept, _, _ = base_embeddings(copies, torch.device("cpu"), duration_s,
                                                 cache_dir(cache), progress,
                                                 desc=f"music -{db:g} dB", level=level)
        by_copy = dict(zip([c.path for c in kept], arrays))
        out[db] = {i: by_copy[c.path] for i, c in zip(items, copies)}
    return out


def _listed_or_made(listed: Path, reuse: bool, make) -> list[dict]:
    if reuse and listed.is_file():                    # same files, same mtimes: cache hits
        with open(listed, newline="", encoding="utf-8") as f:
            return list(csv.DictReader(f))
    return make()


def music_probe(folder: Path, per_kind: int, seed: int, duration_s, cache, progress, reuse,
                level) -> list:
    """Per-patch embeddings of ``per_kind`` synthesised clips of each
    ``make_music_probe`` kind (solo instruments, singing, a cappella, quiet)."""
    import make_music_probe

    if per_kind <= 0:
        return []
    rows = _listed_or_made(folder / "music_probe.csv", reuse,
                           lambda: make_music_probe.generate(folder, per_kind, seed))
    items = [LabelledFile("music", Path(r["path"])) for r in rows]
    return base_embeddings(items, torch.device("cpu"), duration_s, cache_dir(cache), progress,
                           desc="music probe", level=level)[1]


def train_not_music(kept, by_file, quiet, folder: Path, *, k, seed, epochs, duration_s, cache,
                    per_kind, kinds, clip_duration_s, reuse, probe_per_kind, level,
                    progress) -> tuple[torch.nn.Module, dict]:
    """Fit the not-music head; return it and its figures.

    ``kept``/``by_file`` are the music files and their embeddings, ``quiet``
    the output of :func:`quiet_copies`; the synthesised sets go to ``folder``
    (``reuse``: keep the ones listed there).
    """
    import make_nonmusic

    rows = _listed_or_made(folder / "nonmusic.csv", reuse, lambda: make_nonmusic.generate(
        folder, per_kind, seed, tuple(kinds or make_nonmusic.KINDS), clip_duration_s))
    nm_items = [LabelledFile("not_music", Path(r["path"])) for r in rows]
    _, nm_arrays, nm_kept, _, _ = base_embeddings(nm_items, torch.device("cpu"), duration_s,
                                                   cache_dir(cache), progress, desc="non-music",
                                                   level=level)
    split = {Path(r["path"]): r["split"] for r in rows}
    kind = {Path(r["path"]): r["kind"] for r in rows}
    nm_train = [a for i, a in zip(nm_kept, nm_arrays) if split[i.path] == "train"]
    nm_test = [(i, a) for i, a in zip(nm_kept, nm_arrays) if split[i.path] == "test"]
    probe = music_probe(folder / "music_probe", probe_per_kind, seed + 1, duration_s, cache,
                        progress, reuse, level)

    def fit_binary(music_files):
        music_arrays = [by_file[i] for i in music_files] + probe + [
            copies[i] for copies in quiet.values() for i in music_files]
        x = np.concatenate(music_arrays + nm_train)
        yb = np.concatenate([np.zeros(sum(len(a) for a in music_arrays)),
                             np.ones(sum(len(a) for a in nm_train))]).astype(np.int64)
        return fit_default(x.astype(np.float32), yb, None, None, None, 2, 0, seed, epochs)[0]

    false_alarms = np.zeros(len(kept), bool)           # grouped CV over the music
    quiet_alarms = {db: np.zeros(len(kept), bool) for db in quiet}
    for rest, held in grouped_folds(kept, k, seed):
        nm_head = fit_binary(rest)
        for db, flags in [(None, false_alarms), *quiet_alarms.items()]:
            source = by_file if db is None else quiet[db]
            p = head_clip_means(nm_head, [source[i] for i in held])[:, 1]
            for i, q in zip(held, p):
                flags[kept.index(i)] = q >= NOT_MUSIC_THRESHOLD
    nm_head = fit_binary(kept)
    hits = head_clip_means(nm_head, [a for _, a in nm_test])[:, 1] >= NOT_MUSIC_THRESHOLD
    kinds_test = np.array([kind[i.path] for i, _ in nm_test])
    return nm_head, {
        "threshold": NOT_MUSIC_THRESHOLD, "nonmusic_clips": len(nm_kept),
        "nonmusic_train": len(nm_train), "nonmusic_test": len(nm_test),
        "hit_rate_test": float(hits.mean()) if len(hits) else None,
        "hit_rate_test_by_kind": {kd: float(hits[kinds_test == kd].mean())
                                  for kd in sorted(set(kinds_test))},
        "false_alarm_rate_music_cv": float(false_alarms.mean()),
        "false_alarms_music_cv": [str(i.path) for i, f in zip(kept, false_alarms) if f],
        "false_alarm_rate_quieter_cv": {f"-{db:g} dB": float(f.mean())
                                        for db, f in quiet_alarms.items()},
        "music_probe_clips_trained": len(probe)}
