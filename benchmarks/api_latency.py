"""Latency of ``POST /api/v1/classify`` on a local server.

Starts the page and API in-process (uvicorn on a free loopback port), uploads
a generated clip N times one after the other and prints median, p95, min and
max of the client-side latency (upload + analysis + answer) and of the
server's own ``timings.total``.

    .venv/bin/python benchmarks/api_latency.py                     # default model
    .venv/bin/python benchmarks/api_latency.py --model vgg19_bn_cqt --models-dir models -n 20
    .venv/bin/python benchmarks/api_latency.py --json

Exits with status 1 and a clear message when the model cannot be used
(unknown name, or weights missing).
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import statistics
import sys
import tempfile
import threading
import time
from pathlib import Path

os.environ["GRADIO_ANALYTICS_ENABLED"] = "False"
sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

import httpx  # noqa: E402
import numpy as np  # noqa: E402
import soundfile as sf  # noqa: E402
import uvicorn  # noqa: E402

from genrescope.errors import GenrescopeError  # noqa: E402
from genrescope.models.registry import DEFAULT_MODEL, resolve  # noqa: E402
from genrescope.synth import chord, groove  # noqa: E402
from genrescope.server.app import create_app  # noqa: E402
from netutil import free_port


def parse_args(argv=None) -> argparse.Namespace:
    p = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    p.add_argument("--model", help=f"model name or folder (default: {DEFAULT_MODEL})")
    p.add_argument("--models-dir", help="official checkpoints / bundles "
                   "(default $GENRESCOPE_MODELS or ./models)")
    p.add_argument("-n", "--requests", type=int, default=20, help="timed requests (default 20)")
    p.add_argument("--warmup", type=int, default=2, help="untimed requests first (default 2; "
                   "the first one loads the model)")
    p.add_argument("--clip-seconds", type=float, default=30.0,
                   help="length of the generated clip (default 30)")
    p.add_argument("--duration", type=float, default=30.0, help="duration_s sent (default 30)")
    p.add_argument("--device", choices=("cpu", "cuda"), help="default: cuda when available")
    p.add_argument("--json", action="store_true", help="print the results as JSON")
    return p.parse_args(argv)


def percentile(values: list[float], q: float) -> float:
    return float(np.percentile(values, q, method="linear"))


def summary(values: list[float]) -> dict:
    return {"median": statistics.median(values), "p95": percentile(values, 95),
            "min": min(values), "max": max(values)}


def check_model(name: str | None, models_dir: str | None) -> str:
    """The model's name; exits with a clear message when it cannot be used."""
    label = name or f"the default model {DEFAULT_MODEL}"
    try:
        entry = resolve(name, models_dir)
    except GenrescopeError as exc:
        sys.exit(f"api_latency: {label} is unavailable: {exc}\n"
                 "Pick one that is with --model (see `genrescope models`).")
    if not entry.available:
        sys.exit(f"api_latency: {label} is unavailable: {entry.reason}")
    return entry.name


def start_server(app) -> tuple[uvicorn.Server, threading.Thread, str]:
    port = free_port()
    server = uvicorn.Server(uvicorn.Config(app, host="127.0.0.1", port=port, log_level="warning"))
    thread = threading.Thread(target=server.run, daemon=True)
    thread.start()
    deadline = time.monotonic() + 120
    while not server.started:
        if not thread.is_alive() or time.monotonic() > deadline:
            sys.exit("api_latency: the server did not start")
        time.sleep(0.05)
    return server, thread, f"http://127.0.0.1:{port}"


def main(argv=None) -> int:
    args = parse_args(argv)
    model = check_model(args.model, args.models_dir)
    with tempfile.TemporaryDirectory(prefix="genrescope-bench-") as tmp:
        clip = Path(tmp) / "clip.wav"
        sr = 22050
        y = 0.6 * chord(args.clip_seconds, sr) + 0.4 * groove(args.clip_seconds, sr)
        sf.write(clip, y, sr, subtype="PCM_16")
        app = create_app(args.models_dir, args.model, device=args.device)
        server, thread, base = start_server(app)
        client_s, server_s = [], []
        try:
            with httpx.Client(base_url=base, timeout=600) as client:
                for i in range(args.warmup + args.requests):
                    t0 = time.perf_counter()
                    with open(clip, "rb") as f:
                        r = client.post("/api/v1/classify", files={"file": ("clip.wav", f)},
                                        data={"duration_s": str(args.duration)})
                    elapsed = time.perf_counter() - t0
                    if r.status_code != 200:
                        sys.exit(f"api_latency: {model}: HTTP {r.status_code}: "
                                 f"{r.json().get('error', r.text)}")
                    if i >= args.warmup:
                        client_s.append(elapsed)
                        server_s.append(r.json()["timings"]["total"])
        finally:
            server.should_exit = True
            thread.join(30)
    result = {"model": model, "requests": args.requests, "clip_seconds": args.clip_seconds,
              "duration_s": args.duration, "device": args.device or "auto",
              "machine": f"{platform.machine()}, {os.cpu_count()} CPUs",
              "latency_s": summary(client_s), "server_total_s": summary(server_s)}
    if args.json:
        print(json.dumps(result, indent=2))
        return 0
    print(f"POST /api/v1/classify: model {model}, {args.clip_seconds:g} s WAV clip, "
          f"{args.requests} sequential requests ({result['machine']})")
    print(f"{'':<22}{'median':>9}{'p95':>9}{'min':>9}{'max':>9}")
    for name, key in (("client latency (ms)", "latency_s"),
                      ("server total (ms)", "server_total_s")):
        row = result[key]
        print(f"{name:<22}" + "".join(f"{row[k] * 1000:>9.1f}"
                                      for k in ("median", "p95", "min", "max")))
    return 0


if __name__ == "__main__":
    sys.exit(main())
