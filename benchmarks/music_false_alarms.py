"""False alarms of the not-music note on music the head never trained on:
solo instruments, singing, a cappella and quiet classical.

    .venv/bin/python benchmarks/music_false_alarms.py [--per-kind 8] [--seed 0]
        [--model genres] [--keep DIR] [--no-real] [--verbose]

Two sets, both classified by genrescope's :class:`~genrescope.Classifier`
(whole clip, as the CLI does for a file up to 30 s):

* synthesised music from ``tools/make_music_probe.py`` (``--per-kind`` clips
  of each kind, 10 s, written to a temporary folder or ``--keep DIR``);
* real quiet music, derived at run time from ``../shared/data`` (never
  copied): the five gtzan-mini classical clips and the first 30 s of the
  Brahms string-orchestra recording in music-clips, each as it is and at
  -20, -30 and -40 dB relative to its own level. When that folder is
  missing this part is skipped and the report says so. The gtzan-mini clips
  are training music of the default model, so only their quieter copies
  are new to it; the Brahms recording was never trained on.

Per kind it prints: the mean RMS level (dBFS), n, how many got the
``not_music`` note, the false-alarm rate, the mean and the largest clip
not-music probability (the head's clip mean, compared with the model's
threshold), how many got the ``silence`` quality note, and the most frequent
top genre.
"""

from __future__ import annotations

import argparse
import sys
import tempfile
from collections import Counter, defaultdict
from pathlib import Path

import numpy as np

ROOT = Path(__file__).resolve().parent.parent
DATA = ROOT.parent / "shared" / "data"
LEVELS_DB = (0, -20, -30, -40)
sys.path.insert(0, str(ROOT / "tools"))


def classifier(name: str):
    """The :class:`~genrescope.Classifier` of ``name``."""
    from genrescope import Classifier

    return Classifier.load(name, device="cpu")


def real_items(sr: int) -> list[tuple[str, str, np.ndarray, int]]:
    """``(kind, name, samples, sr)`` of the real quiet music at each level, or []
    (with a message) when ``../shared/data`` is missing."""
    from genrescope.audio import load_audio

    sources = sorted((DATA / "gtzan-mini").glob("classical.*.wav"))
    brahms = sorted((DATA / "music-clips").glob("Hungarian_Dance*.ogg"))
    if not sources and not brahms:
        print(f"music_false_alarms: {DATA} (gtzan-mini classical, music-clips Brahms) is "
              "missing: the real quiet-music part is SKIPPED, only synthesised music is "
              "measured.", file=sys.stderr)
        return []
    items = []
    for path in sources + brahms:
        y = load_audio(str(path), sr, duration_s=30.0).y
        group = "gtzan classical" if path.suffix == ".wav" else "Brahms strings"
        for db in LEVELS_DB:
            items.append((f"{group} {db:+d} dB", path.name,
                          (y * 10 ** (db / 20)).astype(np.float32), sr))
    return items


def main(argv=None) -> None:
    import soundfile as sf
    from tqdm import tqdm

    import make_music_probe

    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--per-kind", type=int, default=8)
    ap.add_argument("--seed", type=int, default=0)
    ap.add_argument("--model", default=None, help="default: the shipped default model")
    ap.add_argument("--keep", help="write the synthesised clips here (default: a temp folder)")
    ap.add_argument("--no-real", action="store_true", help="skip ../shared/data")
    ap.add_argument("--verbose", action="store_true", help="print every flagged clip")
    args = ap.parse_args(argv)

    clf = classifier(args.model)
    with tempfile.TemporaryDirectory() as tmp:
        folder = Path(args.keep or tmp)
        rows = make_music_probe.generate(folder, args.per_kind, args.seed)
        items = [(r["kind"], Path(r["path"]).name, *sf.read(r["path"], dtype="float32"))
                 for r in rows]
    real = [] if args.no_real else real_items(clf.model.sr)
    results = defaultdict(list)
    for kind, name, y, sr in tqdm(items + real, desc="classify", unit="clip"):
        pred = clf.classify(y, sr=sr, duration_s=None)
        codes = {w.code for w in pred.warnings}
        level_db = 20 * np.log10(np.sqrt(np.mean(np.square(y, dtype=np.float64))) + 1e-12)
        results[kind].append((name, "not_music" in codes, pred.side_scores.get("not_music"),
                              "silence" in codes, pred.top[0].label, level_db))

    threshold = clf.model.config.not_music.threshold if clf.model.config.not_music else None
    source = "skipped (--no-real)" if args.no_real else f"from {DATA}" if real else "MISSING"
    print(f"model {clf.name}; not-music threshold {threshold}; synthesised: "
          f"{args.per_kind} per kind, seed {args.seed}, 10 s; real quiet music: {source}")
    print(f"{'kind':<24}{'dBFS':>6}{'n':>4}{'notes':>7}{'rate':>7}{'mean p':>8}{'max p':>7}"
          f"{'silence':>8}  top genre")
    for kind, res in results.items():
        n, flagged = len(res), sum(r[1] for r in res)
        ps = [r[2] for r in res if r[2] is not None]
        genre, count = Counter(r[4] for r in res).most_common(1)[0]
        mean_p = f"{np.mean(ps):.3f}" if ps else "-"
        max_p = f"{np.max(ps):.3f}" if ps else "-"
        level_db = np.mean([r[5] for r in res])
        print(f"{kind:<24}{level_db:>6.0f}{n:>4}{flagged:>7}{flagged / n:>7.0%}{mean_p:>8}"
              f"{max_p:>7}{sum(r[3] for r in res):>8}  {genre} ({count}/{n})")
        if args.verbose:
            for name, hit, p, _, top, db in res:
                if hit:
                    print(f"    flagged: {name} p={p:.3f} {db:.0f} dBFS, top {top}")
    synth = [r for k, res in results.items() if k in make_music_probe.KINDS for r in res]
    total = sum(r[1] for r in synth)
    print(f"all synthesised music: {total}/{len(synth)} flagged ({total / len(synth):.1%})")


if __name__ == "__main__":
    main()
