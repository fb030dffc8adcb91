"""Slow page uploads against a real ``genrescope serve`` and ``/healthz``
meanwhile (issue 28): does the page's 408 cut (:class:`RouteAllowList
<genrescope.server.routes.RouteAllowList>`) free uvicorn's
``limit_concurrency`` slots?

    .venv/bin/python benchmarks/slow_uploads.py                  # 20 uploads, 45 s
    .venv/bin/python benchmarks/slow_uploads.py --n 70 --seconds 50

Opens ``--n`` connections to ``POST /gradio_api/upload`` that declare a 1 MB
multipart body and trickle one byte every 2 s (opened ``--stagger`` s apart),
polls ``/healthz`` once a second for ``--seconds`` seconds (from the first
connection; meanwhile too), and prints how the slow uploads ended
(status, seconds) and the ``/healthz`` answers (200s, 503s, no answer; the
longest run without a 200).
"""

from __future__ import annotations

import argparse
import socket
import sys
import tempfile
import threading
import time
from collections import Counter
from pathlib import Path

import httpx

sys.path.insert(0, str(Path(__file__).resolve().parent))
import reliability as rel  # noqa: E402


def trickle(base: str, stop: threading.Event, out: list) -> None:
    """One slow upload; appends ``(status or 'closed', seconds)`` when it ends."""
    host, port = base.rsplit("/", 1)[1].split(":")
    t0 = time.monotonic()
    head = (f"POST /gradio_api/upload HTTP/1.1\r\nHost: {host}:{port}\r\n"
            "Content-Type: multipart/form-data; boundary=xyz\r\n"
            f"Content-Length: {1024 * 1024}\r\n\r\n--xyz\r\n"
            'Content-Disposition: form-data; name="files"; filename="a.wav"\r\n\r\n').encode()
    try:
        with socket.create_connection((host, int(port)), timeout=2) as sock:
            sock.sendall(head)
            while not stop.is_set():
                try:
                    answer = sock.recv(200)
                except socket.timeout:
                    sock.sendall(b"x")
                    continue
                status = answer.split(b" ")[1].decode() if answer else "closed"
                out.append((status, time.monotonic() - t0))
                return
    except OSError as exc:
        out.append((type(exc).__name__, time.monotonic() - t0))
        return
    out.append(("still open", time.monotonic() - t0))


def main(argv=None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--n", type=int, default=20, help="slow uploads at once")
    parser.add_argument("--seconds", type=float, default=45.0)
    parser.add_argument("--stagger", type=float, default=0.05,
                        help="seconds between two connections (at once, uvicorn answers "
                             "503 to those past its limit before they hold a slot)")
    args = parser.parse_args(argv)
    with tempfile.TemporaryDirectory(prefix="genrescope-slow-") as tmp:
        server = rel.start_server(Path(tmp) / "server", "--precision", "fp32")
        stop, ended, health = threading.Event(), [], []
        try:
            threads = [threading.Thread(target=trickle, args=(server.base, stop, ended))
                       for _ in range(args.n)]
            t0 = time.monotonic()
            for t in threads:
                t.start()
                time.sleep(args.stagger)
            with httpx.Client(trust_env=False, timeout=3) as client:   # after the openings
                while time.monotonic() - t0 < args.seconds:
                    tick = time.monotonic()
                    try:
                        status = client.get(server.base + "/healthz").status_code
                    except httpx.HTTPError:
                        status = "no answer"
                    health.append((tick - t0, status))
                    time.sleep(max(0.0, 1.0 - (time.monotonic() - tick)))
            stop.set()
            for t in threads:
                t.join(5)
        finally:
            log = server.stop()
    worst, last_ok = 0.0, 0.0
    for at, status in health:
        if status == 200:
            last_ok = at
        worst = max(worst, at - last_ok)
    ends = Counter(s for s, _ in ended)
    times = sorted(t for s, t in ended if s == "408")
    print(f"| slow uploads | {args.n} (one byte every 2 s) |\n|---|---|")
    print(f"| how they ended | {dict(ends)} |")
    if times:
        print(f"| 408 after | {times[0]:.1f} - {times[-1]:.1f} s |")
    print(f"| /healthz polls | {len(health)}: {dict(Counter(s for _, s in health))} |")
    first_bad = next((at for at, s in health if s != 200), None)
    print(f"| first /healthz not 200 | {'none' if first_bad is None else f'{first_bad:.1f} s'} |")
    print(f"| longest time without a 200 | {worst:.1f} s |")
    print(f"| tracebacks in the server log | {log.count('Traceback')} |")
    if "Traceback" in log:                       # the last line of each
        print("\n".join(sorted({block.strip().splitlines()[-1]
                                for block in log.split("Traceback")[1:]})))
        print(log[log.find("Traceback"):][:3000])
    return 0


if __name__ == "__main__":
    sys.exit(main())
