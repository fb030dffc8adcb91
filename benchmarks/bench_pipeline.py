"""Time per stage of genrescope's pipeline, beside the official app's procedure.

    .venv/bin/python benchmarks/bench_pipeline.py [--repeats 5] [--json OUT]

Inputs come from ../shared/data/music-clips (a 30 s window of "Vibe Ace" and a
4 min file made of two clips back to back, each as WAV and MP3); without that
folder, synthesised music of the same lengths is used and the table says so.
vgg19_bn_cqt uses ./models (or $GENRESCOPE_MODELS) when its save.pt is there,
else random weights with the exact key layout (timings do not depend on them).

The baseline is the official app's procedure as described in issue 2, run in
the same loop, alternating with genrescope: librosa.load, CQT, specshow per
11.4 s chunk saved as JPEG and reopened, Resize + Normalize, the model built
(torchvision's vgg19_bn with its ImageNet classifier, initialised, then the
ccmusic head put in its place, as ccmusic's Net class does) and its save.pt
loaded on every request, one forward per chunk, majority vote.
"""

from __future__ import annotations

import argparse
import json
import os
import resource
import sys
import tempfile
import time
from collections import Counter
from pathlib import Path

import numpy as np
import soundfile as sf
import torch

ROOT = Path(__file__).resolve().parent.parent
SHARED = ROOT.parent / "shared" / "data" / "music-clips"


def make_inputs(folder: Path) -> tuple[dict, str]:
    """Write the benchmark files; returns ({name: path}, where they came from)."""
    import librosa

    clips = sorted(SHARED.glob("*.ogg")) if SHARED.is_dir() else []
    if len(clips) >= 3:
        vibe = next(c for c in clips if "Vibe_Ace" in c.name)
        y30, sr = librosa.load(vibe, sr=44100, mono=False, duration=30.0)
        long = [librosa.load(c, sr=44100, mono=False)[0] for c in clips
                if "Sugar_Plum" in c.name or "Fishin" in c.name]
        y4 = np.concatenate(long, axis=1)[:, :240 * 44100]
        origin = f"real music from {SHARED}"
    else:
        from genrescope.synth import chord, groove

        sr = 44100
        mix = lambda s: np.stack([0.6 * chord(s, sr) + 0.4 * groove(s, sr)] * 2)
        y30, y4 = mix(30.0), mix(240.0)
        origin = "SYNTHESISED audio (../shared/data/music-clips not found)"
    files = {}
    for name, y in (("30s", y30), ("4min", y4)):
        for ext, kw in (("wav", {}), ("mp3", {"format": "MP3"})):
            path = folder / f"{name}.{ext}"
            sf.write(path, y.T, sr, **kw)
            files[f"{name}.{ext}"] = path
    return files, origin


def vgg_models_dir(tmp: Path, explicit: str | None = None) -> tuple[Path, str]:
    from genrescope.models.registry import models_dir
    from genrescope.models.vgg import VGG

    real = models_dir(explicit)
    if (real / "vgg19_bn_cqt" / "save.pt").is_file():
        kind = "stand-in" if (real / "vgg19_bn_cqt" / "PROXY.txt").is_file() else "official"
        return real, f"{kind} weights from {real}"
    (tmp / "vgg19_bn_cqt").mkdir(parents=True)
    torch.save(VGG("vgg19_bn", 16).state_dict(), tmp / "vgg19_bn_cqt" / "save.pt")
    return tmp, "random weights (official key layout)"


def official_request(path: Path, models_dir: Path) -> dict:
    """One request of the official app, with its stages timed."""
    import librosa

    from reference import official_images, official_network, official_tensor

    t0 = time.perf_counter()
    y, sr = librosa.load(path)
    t1 = time.perf_counter()
    images = official_images(y, sr)
    t2 = time.perf_counter()
    net = official_network(models_dir / "vgg19_bn_cqt" / "save.pt")
    t3 = time.perf_counter()
    votes = []
    with torch.no_grad():
        for image in images:
            votes.append(int(net(official_tensor(image)).argmax()))
    Counter(votes).most_common(1)
    t4 = time.perf_counter()
    return {"decode": t1 - t0, "features": t2 - t1, "load": t3 - t2, "network": t4 - t3,
            "total": t4 - t0}


def cold_starts(files: dict, vgg_dir: Path) -> list[tuple[str, float]]:
    """Seconds from starting a process to its answer: ``classify`` and ``serve``."""
    import socket
    import subprocess

    import httpx

    exe = str(Path(sys.executable).with_name("genrescope"))
    out = []
    for model in ("musicnn_genres", "vgg19_bn_cqt"):
        t = time.perf_counter()
        subprocess.run([exe, "classify", str(files["30s.mp3"]), "--model", model,
                        "--models-dir", str(vgg_dir)], check=True, capture_output=True)
        out.append((f"`genrescope classify` 30 s MP3, {model}", time.perf_counter() - t))
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]
    t = time.perf_counter()
    server = subprocess.Popen([exe, "serve", "--port", str(port)], stdout=subprocess.DEVNULL,
                              stderr=subprocess.DEVNULL)
    try:
        while time.perf_counter() - t < 180:
            try:
                with open(files["30s.mp3"], "rb") as f:
                    r = httpx.post(f"http://127.0.0.1:{port}/api/v1/classify",
                                   files={"file": ("30s.mp3", f)}, timeout=60)
                if r.status_code == 200:
                    break
            except httpx.TransportError:
                time.sleep(0.2)
        out.append(("`genrescope serve` start to first API answer (default model)",
                    time.perf_counter() - t))
    finally:
        server.terminate()
        server.wait(10)
    return out


def batch_throughput(n_files: int = 40) -> str:
    """``genrescope classify FOLDER`` over n files: seconds of audio per second."""
    import subprocess

    import soundfile

    clips = sorted((SHARED.parent / "gtzan-mini").glob("*.wav"))[:n_files]
    if len(clips) < n_files:
        return "batch throughput: skipped (../shared/data/gtzan-mini not found)"
    folder = Path(tempfile.mkdtemp(prefix="genrescope-batch-"))
    for c in clips:
        (folder / c.name).symlink_to(c)
    audio_s = sum(soundfile.info(c).duration for c in clips)
    exe = str(Path(sys.executable).with_name("genrescope"))
    t = time.perf_counter()
    subprocess.run([exe, "classify", str(folder), "--format", "json"], check=True,
                   capture_output=True)
    wall = time.perf_counter() - t
    return (f"batch: `genrescope classify FOLDER` on {n_files} gtzan-mini files "
            f"({audio_s:.0f} s of audio, default model): {wall:.1f} s wall = "
            f"{audio_s / wall:.1f} s of audio per second (process start included)")


def main(argv=None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--repeats", type=int, default=5)
    parser.add_argument("--json", help="also write the raw figures here")
    parser.add_argument("--no-cold", action="store_true",
                        help="skip cold starts and batch throughput (subprocesses)")
    parser.add_argument("--models-dir", help="where vgg19_bn_cqt/save.pt is (default "
                        "$GENRESCOPE_MODELS or ./models; random weights if absent)")
    args = parser.parse_args(argv)

    from genrescope import Classifier

    tmp = Path(tempfile.mkdtemp(prefix="genrescope-bench-"))
    files, origin = make_inputs(tmp)
    vgg_dir, vgg_origin = vgg_models_dir(tmp / "models", args.models_dir)
    print(f"# genrescope pipeline benchmark\n\ninputs: {origin}\nvgg19_bn_cqt: {vgg_origin}\n"
          f"torch {torch.__version__}, {torch.get_num_threads()} threads, {os.cpu_count()} cores\n")

    loads = {}
    classifiers = {}
    for label, name, precision in (("musicnn_genres", "musicnn_genres", "auto"),
                                   ("vgg19_bn_cqt fp32", "vgg19_bn_cqt", "fp32"),
                                   ("vgg19_bn_cqt int8", "vgg19_bn_cqt", "int8")):
        t = time.perf_counter()
        classifiers[label] = Classifier.load(name, device="cpu", models_dir=vgg_dir,
                                             precision=precision)
        loads[label] = time.perf_counter() - t
    t = time.perf_counter()
    auto = Classifier.load("vgg19_bn_cqt", device="cpu", models_dir=vgg_dir)
    check = auto.model.int8_check
    print(f"precision \"auto\" picks {auto.model.precision} for this vgg19_bn_cqt: int8 agreed "
          f"with fp32 on {check.agreed}/{check.n} check clips, max probability difference "
          f"{check.max_probability_diff:.3f} (load incl. check {time.perf_counter() - t:.1f} s; "
          f"cached after the first)\n")
    del auto

    cases = [(model, f, d) for model in classifiers for f in files
             for d in ((30.0,) if f.startswith("30s") else (30.0, None))]
    runs: dict[tuple, list] = {c: [] for c in cases}
    baseline: list = []
    for case in cases:                                   # warm-up (numba, filters)
        classifiers[case[0]].classify(files[case[1]], duration_s=case[2])
    for _ in range(args.repeats):
        baseline.append(official_request(files["30s.wav"], vgg_dir))
        for case in cases:
            model, f, d = case
            runs[case].append(classifiers[model].classify(files[f], duration_s=d).timings)

    base_total = float(np.median([b["total"] for b in baseline]))
    print("model load (once per process): "
          + ", ".join(f"{k} {v:.2f} s" for k, v in loads.items()) + "\n")
    header = "| model | input | analysed | stage | median s | min s | max s | x faster than baseline |"
    print(header + "\n|" + "---|" * 8)
    rows = []
    stages = ("decode", "features", "load", "network", "total")
    for stage in stages:
        v = [b[stage] for b in baseline]
        rows.append(("official procedure", "30s.wav", "30 s", stage, v, None))
    for (model, f, d), timings in runs.items():
        for stage in ("decode", "features", "network", "total"):
            v = [t[stage] for t in timings]
            ratio = base_total / float(np.median(v)) if stage == "total" and f == "30s.wav" \
                and d == 30.0 else None
            rows.append((model, f, "whole" if d is None else "30 s", stage, v, ratio))
    for model, f, d, stage, v, ratio in rows:
        print(f"| {model} | {f} | {d} | {stage} | {np.median(v):.3f} | {min(v):.3f} | "
              f"{max(v):.3f} | {'' if ratio is None else f'{ratio:.1f}x'} |")
    peak_mb = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024
    print(f"\npeak RSS of this process: {peak_mb:.0f} MB")
    for model in classifiers:
        t = runs[(model, "4min.wav", None)]
        total = float(np.median([x["total"] for x in t]))
        print(f"{model}: whole 4 min WAV in {total:.2f} s = {240 / total:.0f}x real time")
    if not args.no_cold:
        print("\n| cold start (new process) | seconds |\n|---|---|")
        for label, seconds in cold_starts(files, vgg_dir):
            print(f"| {label} | {seconds:.2f} |")
        print("\n" + batch_throughput())
    if args.json:
        Path(args.json).write_text(json.dumps({
            "inputs": origin, "vgg": vgg_origin, "loads": loads, "baseline": baseline,
            "runs": {"|".join(map(str, k)): v for k, v in runs.items()}}, indent=1))
    return 0


if __name__ == "__main__":
    sys.exit(main())
