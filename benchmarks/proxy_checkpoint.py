"""Train a stand-in for the official vgg19_bn_cqt checkpoint, to measure
reduced-precision agreement on a network that has actually learned something.

    .venv/bin/python benchmarks/proxy_checkpoint.py --out /tmp/proxy-models [--epochs 8]

The official ``save.pt`` cannot be downloaded here, and random weights are a
poor test of int8/bf16: their outputs are near-ties, so any rounding flips
the top-1. This script trains vgg19_bn with the official 16-way head from
scratch (Adam 1e-4, batch 16, through :func:`genrescope.training.cnn.train_epoch`,
the loop of ``genrescope train --method cnn``) on CQT images of the first
three clips of each genre of ../shared/data/gtzan-mini (random 11.4 s windows; genres use the
first ten of the sixteen outputs) and writes
``OUT/vgg19_bn_cqt/save.pt`` in the official layout, so that
``--models-dir OUT`` loads it like the real one. The clips ``*.00003`` and
``*.00004`` are never trained on; benchmarks/bench_int8.py measures on them
and on music-clips. About 10 minutes on 2 cores.
"""

from __future__ import annotations

import argparse
import sys
import time
from pathlib import Path

import numpy as np
import torch

ROOT = Path(__file__).resolve().parent.parent
DATA = ROOT.parent / "shared" / "data" / "gtzan-mini"
TRAIN_IDS = ("00000", "00001", "00002")


def training_images(spec, windows: int, rng: np.random.Generator):
    """(images, labels): ``windows`` random 11.4 s windows of every training clip."""
    from genrescope.audio import load_audio
    from genrescope.features import image_features

    files = sorted(f for f in DATA.glob("*.wav") if f.stem.split(".")[1] in TRAIN_IDS)
    if not files:
        sys.exit(f"proxy_checkpoint: no clips in {DATA}")
    genres = sorted({f.stem.split(".")[0] for f in files})
    images, labels = [], []
    for f in files:
        y = load_audio(f, spec.sr).y
        n = int(spec.chunk_s * spec.sr)
        for _ in range(windows):
            start = int(rng.integers(0, max(1, len(y) - n)))
            images.append(image_features(y[start:start + n], spec).inputs[:1])
            labels.append(genres.index(f.stem.split(".")[0]))
    return torch.cat(images), torch.tensor(labels), genres


def main(argv=None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--out", required=True, type=Path)
    parser.add_argument("--epochs", type=int, default=8)
    parser.add_argument("--windows", type=int, default=8, help="random windows per clip")
    parser.add_argument("--seed", type=int, default=0)
    args = parser.parse_args(argv)

    from genrescope.features import ImageSpec
    from genrescope.models.registry import official_config
    from genrescope.models.vgg import VGG
    from genrescope.training.cnn import train_epoch

    torch.manual_seed(args.seed)
    rng = np.random.default_rng(args.seed)
    spec = ImageSpec.from_dict(official_config("vgg19_bn_cqt")["representation"])
    t0 = time.perf_counter()
    x, y, genres = training_images(spec, args.windows, rng)
    print(f"{len(x)} training images of {len(genres)} genres in {time.perf_counter() - t0:.0f} s",
          flush=True)
    net = VGG("vgg19_bn", 16).to(memory_format=torch.channels_last)
    opt = torch.optim.Adam(net.parameters(), lr=1e-4)
    for epoch in range(args.epochs):
        t0 = time.perf_counter()
        # the training loop of `genrescope train --method cnn`
        loss, accuracy = train_epoch(
            net, opt, x, y, torch.randperm(len(x)), batch_size=16,
            to_input=lambda batch: batch.contiguous(memory_format=torch.channels_last))
        print(f"epoch {epoch + 1}: loss {loss:.3f}, train accuracy {accuracy:.0%}, "
              f"{time.perf_counter() - t0:.0f} s", flush=True)
    folder = args.out / "vgg19_bn_cqt"
    folder.mkdir(parents=True, exist_ok=True)
    state = {k: v.contiguous() for k, v in net.state_dict().items()}
    torch.save(state, folder / "save.pt")
    (folder / "PROXY.txt").write_text(
        "Stand-in trained by benchmarks/proxy_checkpoint.py; outputs 0-9 = "
        + ", ".join(genres) + " (not the official labels).\n")
    print(f"wrote {folder / 'save.pt'}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
