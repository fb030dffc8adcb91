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

Issue 28 adds (``--issue28``, this tree only, the server started with
``--db`` on a small library indexed with the whole-track plan): a FLAC of
silence with 8 channels at 655 350 Hz posted with the default 30 s window
and with ``duration_s=0``, and an M4A whose header says 20 s but which holds
20 minutes, posted to ``/api/v1/classify`` (``duration_s=0``) and to
``/api/v1/library/similar``.
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


def wide_flac(path: Path, seconds: float, channels: int = 8, sr: int = 655_350) -> Path:
    """Silence with ``channels`` channels at ``sr`` Hz (FLAC's highest rate)."""
    with sf.SoundFile(path, "w", sr, channels, subtype="PCM_16", format="FLAC") as f:
        block = np.zeros((sr, channels), np.int16)
        for _ in range(int(seconds)):
            f.write(block)
    return path


def lying_m4a(path: Path, real_s: float = 1200, claimed_s: float = 20, sr: int = 8000) -> Path:
    """An AAC M4A of ``real_s`` seconds of near-silence whose header (mvhd,
    tkhd, mdhd durations) says ``claimed_s``."""
    import av

    rng = np.random.default_rng(0)
    with av.open(str(path), "w", format="ipod") as out:
        stream = out.add_stream("aac", rate=sr, layout="mono")
        for i in range(int(real_s)):
            frame = av.AudioFrame.from_ndarray(
                (rng.standard_normal((1, sr)) * 1e-4).astype(np.float32), format="fltp",
                layout="mono")
            frame.sample_rate, frame.pts = sr, i * sr
            for packet in stream.encode(frame):
                out.mux(packet)
        for packet in stream.encode(None):
            out.mux(packet)
    data = bytearray(path.read_bytes())
    for atom, skip in ((b"mvhd", 12), (b"mdhd", 12), (b"tkhd", 16)):
        at = data.find(atom)
        if at < 0 or data[at + 4] != 0:               # version 0 headers only
            continue
        if atom == b"tkhd":                           # in the movie's time scale
            mv = data.find(b"mvhd")
            scale = int.from_bytes(data[mv + 16:mv + 20], "big")
        else:
            scale = int.from_bytes(data[at + 4 + skip:at + 8 + skip], "big")
        field = at + 8 + skip
        data[field:field + 4] = int(claimed_s * scale).to_bytes(4, "big")
    path.write_bytes(bytes(data))
    return path


def library_db(work: Path) -> Path:
    """A small library (four synthesised clips, whole-track plan)."""
    from genrescope.library import index
    from genrescope.synth import chord

    music = work / "music"
    music.mkdir(parents=True)
    for i in range(4):
        sf.write(music / f"clip{i}.wav", chord(5.0, 22050, root_hz=110.0 * (1 + i / 4)), 22050)
    db = work / "lib.db"
    index([str(music)], str(db), windows="full", progress=False)
    return db


def measure(label: str, src: Path | None, work: Path, files: list, args=()) -> list[dict]:
    """Post each of ``files`` (a path, or ``(path, route, form)``) to a fresh server."""
    env = {"PYTHONPATH": str(src)} if src else {}
    server = rel.start_server(work / label, *args, env=env, timeout=300)
    rows = []
    try:
        idle = peak_rss_mb(server.proc.pid)
        with httpx.Client(trust_env=False, timeout=900) as client:
            for item in files:
                path, route, form = item if isinstance(item, tuple) else \
                    (item, "/api/v1/classify", {"duration_s": 0})
                t0 = time.perf_counter()
                r = client.post(server.base + route, files={"file": (path.name,
                                                                     path.read_bytes())},
                                data={k: str(v) for k, v in form.items()})
                elapsed = time.perf_counter() - t0
                body = r.json()
                rows.append({"server": label, "file": f"{path.name} -> {route} {form}",
                             "size_kb": path.stat().st_size / 1024, "status": r.status_code,
                             "seconds": elapsed, "peak_idle_mb": idle,
                             "peak_after_mb": peak_rss_mb(server.proc.pid),
                             "answer": ("ok" if r.status_code == 200
                                        else body.get("error", "")[:90])})
    finally:
        server.stop()
    return rows


def main(argv=None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--baseline", default=BASELINE,
                        help=f"git revision to compare with (default {BASELINE}; '' for none)")
    parser.add_argument("--minutes", type=float, default=10.0)
    parser.add_argument("--issue28", action="store_true",
                        help="only the issue-28 cases (this tree, with --db)")
    args = parser.parse_args(argv)
    if args.issue28:
        return issue28()
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


def issue28() -> int:
    with tempfile.TemporaryDirectory(prefix="genrescope-bomb28-") as tmp:
        tmp = Path(tmp)
        db = library_db(tmp / "lib")
        wide = wide_flac(tmp / "wide-8ch-655350Hz-40s.flac", 40)
        liar = lying_m4a(tmp / "says-20s-holds-20min.m4a")
        files = [(wide, "/api/v1/classify", {}), (wide, "/api/v1/classify", {"duration_s": 0}),
                 (liar, "/api/v1/classify", {"duration_s": 0}),
                 (liar, "/api/v1/library/similar", {})]
        rows = measure("after", None, tmp, files, ["--db", str(db)])
    print("| file -> route | size | status | time | peak RSS idle | peak RSS after | answer |")
    print("|---|---|---|---|---|---|---|")
    for r in rows:
        print(f"| {r['file']} | {r['size_kb']:.0f} KB | {r['status']} | {r['seconds']:.1f} s | "
              f"{r['peak_idle_mb']:.0f} MB | {r['peak_after_mb']:.0f} MB | {r['answer']} |")
    return 0


if __name__ == "__main__":
    sys.exit(main())
