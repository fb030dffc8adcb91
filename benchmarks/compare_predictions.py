"""Same predictions, bit for bit, from two (or more) source trees.

    .venv/bin/python benchmarks/compare_predictions.py --trees /tmp/gs-base .

Each tree runs in its own process (``PYTHONPATH=<tree>``, this interpreter)
and classifies the same synthesised clips, written here once: with every
shipped model (the default ``genres``, ``musicnn_genres``, the four
taggers), and a random-weight
``vgg19_bn_cqt`` checkpoint (official key layout) in float32 and, where the
CPU runs it, int8. It saves every chunk's scores and the embeddings; the
script then says, per model and clip, whether every tree's numbers equal the
first tree's exactly (``np.array_equal``; the clip probabilities, notes,
styles and timeline segments compared as JSON), and exits 1 if any differs.
Use it after a refactoring that must not change behaviour.
"""

from __future__ import annotations

import argparse
import json
import os
import subprocess
import sys
import tempfile
from pathlib import Path

import numpy as np

ROOT = Path(__file__).resolve().parent.parent

#: Runs inside each tree: classify every clip with every model, save the numbers.
WORKER = r"""
import json, sys
from pathlib import Path
import numpy as np
from genrescope import Classifier
clips, models_dir, out = Path(sys.argv[1]), sys.argv[2], Path(sys.argv[3])
cases = [(name, "auto") for name in ("genres", "musicnn_genres", "msd_musicnn", "mtt_musicnn",
                                     "msd_vgg", "mtt_vgg")] + [("vgg19_bn_cqt", "fp32")]
if sys.argv[4] == "1":
    cases.append(("vgg19_bn_cqt", "int8"))
saved = {}
for name, precision in cases:
    clf = Classifier.load(name, models_dir=models_dir, device="cpu", precision=precision)
    for clip in sorted(clips.glob("*.wav")):
        pred = clf.classify(str(clip), duration_s=0)
        key = f"{name}-{precision}-{clip.stem}"
        np.save(out / f"{key}-scores.npy", pred.chunk_probabilities)
        np.save(out / f"{key}-inputs.npy", pred.features.inputs.numpy())
        np.save(out / f"{key}-embed.npy", clf.embed(str(clip), duration_s=0))
        saved[key] = {"top": [g.label for g in pred.top],
                      "probabilities": pred.probabilities,
                      "warnings": [[w.code, w.message] for w in pred.warnings],
                      "styles": [[s.label, s.probability]
                                 for s in getattr(pred, "styles", None) or []],
                      "segments": [str(s) for s in pred.timeline.segments()]
                      if pred.timeline else []}
(out / "top.json").write_text(json.dumps(saved))
"""


def write_clips(folder: Path) -> None:
    """Five synthesised clips, 44.1 kHz: 1 s, 4 s, 12 s, 31 s, stereo 25 s."""
    import soundfile as sf

    sys.path.insert(0, str(ROOT))
    from genrescope.synth import chord, groove, noise_burst, sweep

    sr = 44100
    clips = {"chord_1s": chord(1.0, sr), "groove_4s": groove(4.0, sr),
             "sweep_12s": sweep(12.0, sr), "mix_31s": 0.6 * chord(31.0, sr) + 0.4 * groove(31.0, sr),
             "stereo_25s": np.stack([noise_burst(25.0, sr), chord(25.0, sr, root_hz=110)], axis=1)}
    for name, y in clips.items():
        sf.write(folder / f"{name}.wav", y, sr)


def write_checkpoint(models_dir: Path) -> None:
    """A random-weight vgg19_bn_cqt/save.pt with the official key layout (seed 0)."""
    import torch

    sys.path.insert(0, str(ROOT))
    from genrescope.models.vgg import VGG

    (models_dir / "vgg19_bn_cqt").mkdir(parents=True)
    torch.manual_seed(0)
    torch.save(VGG("vgg19_bn", 16).state_dict(), models_dir / "vgg19_bn_cqt" / "save.pt")


def main(argv=None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--trees", nargs="+", type=Path, required=True,
                        help="source trees; the first is the reference")
    parser.add_argument("--no-int8", action="store_true", help="skip the int8 VGG case")
    args = parser.parse_args(argv)
    import torch

    int8 = not args.no_int8 and "x86" in torch.backends.quantized.supported_engines
    with tempfile.TemporaryDirectory(prefix="gs-compare-") as tmp:
        tmp = Path(tmp)
        clips, models = tmp / "clips", tmp / "models"
        clips.mkdir()
        write_clips(clips)
        write_checkpoint(models)
        outs = []
        for i, tree in enumerate(args.trees):
            out = tmp / f"out{i}"
            out.mkdir()
            env = dict(os.environ, PYTHONPATH=str(tree.resolve()),
                       GENRESCOPE_CACHE=str(tmp / f"cache{i}"))
            subprocess.run([sys.executable, "-c", WORKER, str(clips), str(models), str(out),
                            "1" if int8 else "0"], env=env, check=True, cwd=tmp)
            outs.append(out)
        different = 0
        tops = [json.loads((o / "top.json").read_text()) for o in outs]
        for name in sorted(p.name for p in outs[0].glob("*.npy")):
            ref = np.load(outs[0] / name)
            for i, out in enumerate(outs[1:], 1):
                other = np.load(out / name)
                same = ref.shape == other.shape and np.array_equal(ref, other)
                different += not same
                print(f"{'same' if same else 'DIFFERENT':9s} tree {i} {name}"
                      + ("" if same or ref.shape != other.shape
                         else f" (max |d| {np.abs(ref - other).max():.3g})"))
        for i, top in enumerate(tops[1:], 1):
            if top != tops[0]:
                different += 1
                print(f"DIFFERENT top labels, probabilities, notes or styles in tree {i}: "
                      + ", ".join(k for k in top if top[k] != tops[0].get(k)))
    print(f"{different} difference(s) across {len(args.trees)} trees"
          + ("" if int8 else " (int8 not compared)"))
    return 1 if different else 0


if __name__ == "__main__":
    sys.exit(main())
