"""int8 against float32 for the VGG models: top-1 agreement, probability
difference and speed, on real music.

    .venv/bin/python benchmarks/bench_int8.py [--arch vgg19_bn] [--model DIR_OR_NAME]

Clips: the 50 of ../shared/data/gtzan-mini and the 4 of music-clips (30 s
each, all chunks). Networks: with --model, that checkpoint (an official
save.pt or a trained bundle); otherwise random weights made "live": batch-norm
statistics re-estimated on half of the clips' images (so activations depend
on the input, as in a trained network) and the output scaled so that the mean
top-1 probability is about 0.6 (so the top-1 is not a coin toss between equal
scores). Agreement = same clip-level top-1 (chunk probabilities averaged).
"""

from __future__ import annotations

import argparse
import sys
import time
from pathlib import Path

import numpy as np
import torch

ROOT = Path(__file__).resolve().parent.parent
DATA = ROOT.parent / "shared" / "data"


def clip_inputs(model) -> list[tuple[str, torch.Tensor]]:
    from genrescope.audio import load_audio

    files = sorted((DATA / "gtzan-mini").glob("*.wav")) + sorted((DATA / "music-clips").glob("*.ogg"))
    if not files:
        sys.exit(f"bench_int8: no clips in {DATA} (gtzan-mini, music-clips): nothing to measure")
    return [(f.name, model.features(load_audio(f, model.sr, duration_s=30).y).inputs)
            for f in files]


def make_live(model, inputs: list[torch.Tensor], target_top1: float = 0.6) -> None:
    """Re-estimate batch-norm statistics and scale the logits (random weights)."""
    net = model.net
    for m in net.modules():
        if isinstance(m, torch.nn.BatchNorm2d):
            m.reset_running_stats()
            m.momentum = None                      # cumulative average
    net.train()
    with torch.no_grad():
        for x in inputs[::2]:
            net.features(x)
    net.eval()
    last = net.classifier[-1]
    with torch.inference_mode():
        logits = torch.cat([net(x) for x in inputs[::4]])
        for scale in np.geomspace(0.5, 5000, 60):
            if torch.softmax(logits * scale, 1).max(1).values.mean() >= target_top1:
                break
    last.weight.data *= float(scale)
    last.bias.data *= float(scale)


def main(argv=None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--arch", default="vgg19_bn")
    parser.add_argument("--model", help="a trained checkpoint (name or folder) instead")
    args = parser.parse_args(argv)

    from genrescope import Classifier
    from genrescope.models.registry import official_config
    from genrescope.models.vgg import VggImageModel

    if args.model:
        model = Classifier.load(args.model, device="cpu", precision="fp32").model
        origin = f"trained weights: {args.model}"
    else:
        torch.manual_seed(0)
        model = VggImageModel(official_config(f"{args.arch}_cqt")).eval()
        origin = f"random {args.arch} weights made live (see docstring)"
    clips = clip_inputs(model)
    if not args.model:
        make_live(model, [x for _, x in clips])
    fp32, t_fp32, t_int8 = [], [], []
    with torch.inference_mode():
        for _, x in clips:
            t = time.perf_counter()
            fp32.append(torch.softmax(model(x), 1))
            t_fp32.append(time.perf_counter() - t)
    t = time.perf_counter()
    model.set_precision("int8")
    calibrate_s = time.perf_counter() - t
    agree, max_diff, top1 = 0, 0.0, []
    with torch.inference_mode():
        for (name, x), p in zip(clips, fp32):
            t = time.perf_counter()
            q = torch.softmax(model(x), 1)
            t_int8.append(time.perf_counter() - t)
            agree += int(p.mean(0).argmax() == q.mean(0).argmax())
            max_diff = max(max_diff, float((p - q).abs().max()))
            top1.append(float(p.mean(0).max()))
    n = len(clips)
    print(f"# int8 vs float32 ({origin})\n")
    print(f"clips: {n} (gtzan-mini + music-clips, 30 s each); mean fp32 top-1 probability "
          f"{np.mean(top1):.2f}; calibration at load: {calibrate_s:.1f} s\n")
    print("| measure | value |\n|---|---|")
    print(f"| top-1 agreement | {agree}/{n} = {agree / n:.1%} |")
    print(f"| max abs probability difference (any chunk, any label) | {max_diff:.4f} |")
    print(f"| forward per clip, float32, median | {np.median(t_fp32):.3f} s |")
    print(f"| forward per clip, int8, median | {np.median(t_int8):.3f} s |")
    print(f"| speed-up | {np.median(t_fp32) / np.median(t_int8):.2f}x |")
    return 0


if __name__ == "__main__":
    sys.exit(main())
