"""int8 (and bf16) against float32 for a VGG checkpoint: top-1 agreement,
probability difference and speed, on real music and on the check clips.

    .venv/bin/python benchmarks/bench_int8.py [--models-dir DIR] [--model vgg19_bn_cqt]

Checkpoint: ``--model`` in ``--models-dir`` (an official save.pt, or the
stand-in benchmarks/proxy_checkpoint.py trains); without one, random weights,
which are the worst case (near-tied outputs flip on any rounding).

Real music: 11.4 s windows every 1.5 s of the clips the stand-in never saw
(gtzan-mini ``*.00003``, ``*.00004``) and of the four music-clips, compared
one image at a time; and 30 s requests (windows every 15 s, chunk
probabilities averaged as ``classify`` does). Check clips: the synthesised
clips ``precision="auto"`` decides on (genrescope.models.quantize).
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
HELD_OUT = ("00003", "00004")


def music(sr: int) -> list[tuple[str, np.ndarray]]:
    from genrescope.audio import load_audio

    files = [f for f in sorted((DATA / "gtzan-mini").glob("*.wav")) if f.stem[-5:] in HELD_OUT]
    files += sorted((DATA / "music-clips").glob("*.ogg"))
    if not files:
        sys.exit(f"bench_int8: no clips in {DATA} (gtzan-mini, music-clips): nothing to measure")
    return [(f.name, load_audio(f, sr, duration_s=None).y) for f in files]


def windows(y: np.ndarray, sr: int, length_s: float, hop_s: float) -> list[np.ndarray]:
    n, hop = int(length_s * sr), int(hop_s * sr)
    return [y[s:s + n] for s in range(0, max(1, len(y) - n + 1), hop)]


def timed(fn, inputs: torch.Tensor) -> tuple[torch.Tensor, float]:
    """Softmax outputs and the median seconds per 2-image batch (a 30 s request)."""
    times, out = [], []
    with torch.inference_mode():
        for batch in inputs.split(2):
            t = time.perf_counter()
            out.append(torch.softmax(fn(batch).float(), 1))
            times.append(time.perf_counter() - t)
    return torch.cat(out), float(np.median(times))


def main(argv=None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--model", default="vgg19_bn_cqt")
    parser.add_argument("--models-dir")
    args = parser.parse_args(argv)

    from genrescope import Classifier
    from genrescope.models.quantize import agreement, check_audio
    from genrescope.models.registry import models_dir, official_config
    from genrescope.models.vgg import VggImageModel

    where = models_dir(args.models_dir)
    if (where / args.model).exists():
        model = Classifier.load(args.model, models_dir=where, device="cpu", precision="fp32").model
        proxy = (where / args.model / "PROXY.txt").is_file()
        origin = f"{'stand-in' if proxy else 'trained'} weights: {where / args.model}"
    else:
        torch.manual_seed(0)
        model = VggImageModel(official_config(args.model)).eval()
        origin = f"random {args.model} weights (no checkpoint in {where})"
    fp32 = lambda x: model.net(x.contiguous(memory_format=torch.channels_last))  # noqa: E731

    clips = music(model.sr)
    images = torch.cat([model.features(w).inputs[:1] for _, y in clips
                        for w in windows(y, model.sr, 11.4, 1.5)])
    requests = [model.features(w).inputs for _, y in clips for w in windows(y, model.sr, 30, 15)]
    check = torch.cat([model.features(y).inputs[:1] for y in check_audio(model.sr)])

    ref, t_fp32 = timed(fp32, images)
    with torch.inference_mode():
        ref_requests = [torch.softmax(fp32(x), 1).mean(0) for x in requests]
    t = time.perf_counter()
    model.set_precision("int8")
    calibrate_s = time.perf_counter() - t

    def bf16(x):
        with torch.autocast("cpu", dtype=torch.bfloat16):
            return fp32(x)

    print(f"# reduced precision against float32 ({origin})\n")
    print(f"real-music images: {len(images)} (mean fp32 top-1 probability "
          f"{float(ref.max(1).values.mean()):.2f}); 30 s requests: {len(requests)}; "
          f"check clips: {len(check)}; int8 set-up (calibration, or the cached network): "
          f"{calibrate_s:.1f} s; "
          f"torch {torch.__version__}, {torch.get_num_threads()} threads\n")
    print("| precision | images agreeing | max prob. diff | requests agreeing | check clips "
          "agreeing | forward per 30 s request (2 images) | speed-up |")
    print("|---|---|---|---|---|---|---|")
    print(f"| fp32 | - | - | - | - | {t_fp32:.3f} s | 1.00x |")
    for name, fn in (("int8", model.int8), ("bf16 autocast", bf16)):
        out, t_fn = timed(fn, images)
        same = int((out.argmax(1) == ref.argmax(1)).sum())
        diff = float((out - ref).abs().max())
        agreed_req = 0
        with torch.inference_mode():
            for x, p in zip(requests, ref_requests):
                q = torch.softmax(fn(x).float(), 1).mean(0)
                agreed_req += int(p.argmax() == q.argmax())
        chk = agreement(fp32, lambda x: fn(x).float(), check)
        print(f"| {name} | {same}/{len(images)} = {same / len(images):.1%} | {diff:.4f} | "
              f"{agreed_req}/{len(requests)} | {chk.agreed}/{chk.n} | {t_fn:.3f} s | "
              f"{t_fp32 / t_fn:.2f}x |")
    return 0


if __name__ == "__main__":
    sys.exit(main())
