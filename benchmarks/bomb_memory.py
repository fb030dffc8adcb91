"""Memory of ``genrescope serve`` for the "bomb" of issue 17: a FLAC of a few
KB holding 10 minutes of silence, posted with ``duration_s=0`` (whole file).

    .venv/bin/python benchmarks/bomb_memory.py                  # this tree vs the pre-fix commit
    .venv/bin/python benchmarks/bomb_memory.py --baseline ""    # this tree only

For each source tree (the baseline is extracted with ``git archive REV`` into
a temporary folder and put first on PYTHONPATH) it starts a server on a free
loopback port (default model, fp32 not forced: the server's defaults), reads
the server process's peak RSS (``VmHWM``) once it answers ``/healthz``, posts
the bomb, and reads the peak again. Also posts a 20-minute file, which the
current server refuses (422, over ``--max-duration`` 600 s) without decoding
more than the limit (the baseline is spared it: it would need twice the
memory of the 10-minute case). Prints a table.
"""

from __future__ import annotations

import argparse
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import httpx
import numpy as np
import soundfile as sf

sys.path.insert(0, str(Path(__file__).resolve().parent))
import reliability as rel  # noqa: E402

REPO = Path(__file__).resolve().parents[1]
#: The commit before the issue-17 fixes.
BASELINE = "317b794^"


def peak_rss_mb(pid: int) -> float:
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        if line.startswith("VmHWM:"):
            return int(line.split()[1]) / 1024
    raise RuntimeError("no VmHWM")


def silent_flac(path: Path, minutes: float, sr: int = 44100) -> Path:
    sf.write(path, np.zeros(int(minutes * 60 * sr), np.float32), sr, subtype="PCM_16")
    return path


def measure(label: str, src: Path | None, work: Path, files: list[Path]) -> list[dict]:
    env = {"PYTHONPATH": str(src)} if src else {}
    server = rel.start_server(work / label, env=env, timeout=300)
    rows = []
    try:
        idle = peak_rss_mb(server.proc.pid)
        with httpx.Client(trust_env=False, timeout=900) as client:
            for path in files:
                t0 = time.perf_counter()
                r = rel.post(client, server.base, path.name, path.read_bytes(), duration_s=0)
                elapsed = time.perf_counter() - t0
                body = r.json()
                rows.append({"server": label, "file": path.name,
                             "size_kb": path.stat().st_size / 1024, "status": r.status_code,
                             "seconds": elapsed, "peak_idle_mb": idle,
                             "peak_after_mb": peak_rss_mb(server.proc.pid),
                             "answer": (body["top"][0]["label"] if r.status_code == 200
                                        else body.get("error", "")[:70])})
    finally:
        server.stop()
    return rows


def main(argv=None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--baseline", default=BASELINE,
                        help=f"git revision to compare with (default {BASELINE}; '' for none)")
    parser.add_argument("--minutes", type=float, default=10.0)
    args = parser.parse_args(argv)
    with tempfile.TemporaryDirectory(prefix="genrescope-bomb-") as tmp:
        tmp = Path(tmp)
        files = [silent_flac(tmp / f"silence-{args.minutes:g}min.flac", args.minutes),
                 silent_flac(tmp / f"silence-{2 * args.minutes:g}min.flac", 2 * args.minutes)]
        trees = []
        if args.baseline:
            old = tmp / "baseline"
            old.mkdir()
            archive = subprocess.run(["git", "-C", str(REPO), "archive", args.baseline],
                                     check=True, capture_output=True).stdout
            subprocess.run(["tar", "-x", "-C", str(old)], input=archive, check=True)
            trees.append((f"before ({args.baseline})", old))
        trees.append(("after (this tree)", None))
        rows = []
        for label, src in trees:       # the old server gets only the 10-minute file
            rows += measure(label.split()[0], src, tmp, files[:1] if src else files)
    print("| server | file | size | status | time | peak RSS idle | peak RSS after | answer |")
    print("|---|---|---|---|---|---|---|---|")
    for r in rows:
        print(f"| {r['server']} | {r['file']} | {r['size_kb']:.0f} KB | {r['status']} | "
              f"{r['seconds']:.1f} s | {r['peak_idle_mb']:.0f} MB | {r['peak_after_mb']:.0f} MB | "
              f"{r['answer']} |")
    return 0


if __name__ == "__main__":
    sys.exit(main())
