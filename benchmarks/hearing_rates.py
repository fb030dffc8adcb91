"""How the default's AudioSet companion decides "not music" and "outside",
measured: hit rate on synthesised non-music, false alarms on the music probe
and on every GTZAN file, false "outside" on GTZAN (all ten genres are inside).

    .venv/bin/python benchmarks/hearing_rates.py [--per-kind 12] [--seed 7] [--json OUT]

Every clip goes through the one :class:`~genrescope.Classifier` (``genres``,
file path, first 30 s, as the CLI does). The not-music rules of
``config.hearing.not_music`` are compared on the same predictions: the
head (``side_scores["not_music"]`` at its threshold), the companion's kind
(speech, animal, nature, noise, silence), either, both. On GTZAN the shipped
head was trained on these very files, so its column there is NOT a
held-out figure: use the build tool's grouped-CV rate for the head (the
model card); the companion never saw GTZAN. Sets: ``tools/make_nonmusic.py``
(``--per-kind`` per kind, ``--seed``; espeak-ng needed for speech: a
synthetic voice, not real speech), ``tools/make_music_probe.py`` (8 per
kind, seed 0) and ``../shared/data`` (gtzan-mini, gtzan-snippets,
music-clips; skipped with a note when missing).
"""

from __future__ import annotations

import argparse
import json
import sys
import tempfile
from collections import Counter, defaultdict
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
DATA = ROOT.parent / "shared" / "data"
sys.path.insert(0, str(ROOT / "tools"))
NOT_MUSIC_KINDS = {"speech", "animal", "nature", "noise", "silence"}


def items(folder: Path, per_kind: int, seed: int) -> list[tuple[str, str]]:
    import make_music_probe
    import make_nonmusic

    out = [("nonmusic:" + r["kind"], r["path"])
           for r in make_nonmusic.generate(folder / "nonmusic", per_kind=per_kind, seed=seed)]
    out += [("probe:" + r["kind"], r["path"])
            for r in make_music_probe.generate(folder / "probe", per_kind=8, seed=0)]
    if DATA.is_dir():
        for sub, pattern in (("gtzan-mini", "*.wav"), ("gtzan-snippets", "*.wav"),
                             ("music-clips", "*.ogg")):
            out += [("gtzan" if sub.startswith("gtzan") else "clips", str(p))
                    for p in sorted((DATA / sub).glob(pattern))]
    else:
        print(f"hearing_rates: {DATA} is missing: GTZAN and music-clips skipped",
              file=sys.stderr)
    return out


def main(argv=None) -> None:
    from tqdm import tqdm

    from genrescope import Classifier

    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--per-kind", type=int, default=12)
    ap.add_argument("--seed", type=int, default=7)
    ap.add_argument("--json", help="write each clip's notes, kind and heard here")
    args = ap.parse_args(argv)
    clf = Classifier.load("genres", device="cpu")
    threshold = clf.model.config.not_music.threshold
    counts: dict = defaultdict(Counter)
    rows = []
    with tempfile.TemporaryDirectory() as tmp:
        for group, path in tqdm(items(Path(tmp), args.per_kind, args.seed), unit="clip"):
            pred = clf.classify(path, duration_s=30.0)
            codes = [w.code for w in pred.warnings]
            head = pred.side_scores["not_music"] >= threshold
            heard_kind = pred.sound.id in NOT_MUSIC_KINDS
            c = counts[group]
            c["n"] += 1
            c["head"] += head
            c["hearing"] += heard_kind
            c["either"] += head or heard_kind
            c["both"] += head and heard_kind
            c["note"] += "not_music" in codes
            c["speech_over_music"] += "speech_over_music" in codes
            c["outside"] += "outside" in codes
            rows.append({"set": group, "file": Path(path).name, "sound": pred.sound.id,
                         "notes": codes, "heard": [h.name.en for h in pred.heard]})
    print(f"rule in use: {clf.model.config.hearing.not_music}; head threshold {threshold}")
    keys = ("n", "head", "hearing", "either", "both", "note", "speech_over_music", "outside")
    print(f"{'set':<22}" + "".join(f"{k[:9]:>10}" for k in keys))
    for group in sorted(counts):
        print(f"{group:<22}" + "".join(f"{counts[group][k]:>10}" for k in keys))
    for prefix in ("nonmusic", "probe", "gtzan", "clips"):
        n = sum(c["n"] for g, c in counts.items() if g.startswith(prefix))
        if n:
            print(f"{prefix}: " + ", ".join(
                f"{k} {sum(c[k] for g, c in counts.items() if g.startswith(prefix))}/{n}"
                for k in keys[1:]))
    if args.json:
        Path(args.json).write_text(json.dumps(rows, ensure_ascii=False, indent=1),
                                   encoding="utf-8")


if __name__ == "__main__":
    main()
