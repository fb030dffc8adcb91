"""Hostile payloads to the page's Gradio endpoint of a real ``genrescope serve``
(the ones of issue 17 and their variants), as any HTTP client can send them:

    .venv/bin/python benchmarks/fuzz_gradio.py

Each case goes to ``POST /gradio_api/call/classify`` and its event stream is
read to the end (30 s at most). A case passes when the answer is the one
expected (``refused``: an error event with the page's refusal; ``error``: an
error event with a message, or the page's own "**Error:** ..." note; ``ok``: a
result) and ``/healthz`` answers right
after. At the end: nothing of the server's files was copied into the page's
cache, no traceback in the server's log. Then the same for the browser-side
headers: foreign ``Host``, foreign ``Origin``, cross-site ``Sec-Fetch-Site``
on the page's upload and queue routes. Prints a table; exit status 1 if a
case failed.
"""

from __future__ import annotations

import argparse
import json
import os
import sys
import tempfile
import time
from pathlib import Path

import httpx

sys.path.insert(0, str(Path(__file__).resolve().parent))
import reliability as rel  # noqa: E402

REFUSED = "Only audio uploaded to this page"


def file_data(path: str, **extra) -> dict:
    return {"path": path, "meta": {"_type": "gradio.FileData"}, **extra}


def cases(server: rel.Server, secret: Path, link: Path, on_disk: str,
          uploaded: str) -> list[tuple]:
    """(name, audio value, other inputs, expected); ``on_disk``: the upload's
    server path, ``uploaded``: as the upload's answer named it."""
    cache = Path(on_disk).parent.parent
    base = server.base
    std = ["musicnn_genres", 30, 0, False, "en"]
    paths = ["/etc/passwd", "/etc/shadow", "/dev/zero", "/dev/urandom", "/proc/self/environ",
             "/proc/self/mem", str(secret), str(link), str(secret.parent), "/nonexistent.wav",
             "relative.wav", "../../../../etc/passwd", f"{cache}/../../etc/passwd",
             f"{cache}/../{secret.name}", "~/.bashrc", "", "\0", "/" * 5000,
             f"file://{secret}", f"{base}/healthz", "http://169.254.169.254/latest/meta-data/",
             "https://example.com/song.mp3", "ftp://example.com/a.wav",
             "data:audio/wav;base64,UklGRg=="]
    out = [(f"path {p[:50]!r}", file_data(p), std, "refused") for p in paths]
    out += [(f"bare string {p[:40]!r}", p, std, "refused") for p in paths[:4] + paths[19:21]]
    out += [("url field with server path", file_data(str(secret), url=f"{base}/x"), std,
             "refused"),
            ("nested dict with a path", {"a": file_data("/etc/passwd")}, std, "refused"),
            ("list of paths", [file_data("/etc/passwd")], std, "refused"),
            ("uploaded file", file_data(uploaded), std, "ok"),
            ("uploaded file, symlink out", file_data(str(link)), std, "refused"),
            ("uploaded file, symlink out, as the page names files",
             file_data(str(Path(uploaded).parent / link.name)), std, "refused"),
            ("uploaded file, by its server path", file_data(on_disk), std, "ok")]
    weird = [("offset Infinity", ["musicnn_genres", 30, float("inf"), False, "en"]),
             ("offset NaN", ["musicnn_genres", 30, float("nan"), False, "en"]),
             ("offset 1e308", ["musicnn_genres", 30, 1e308, False, "en"]),
             ("offset -5", ["musicnn_genres", 30, -5, False, "en"]),
             ("seconds 1e9", ["musicnn_genres", 1e9, 0, False, "en"]),
             ("seconds -1", ["musicnn_genres", -1, 0, False, "en"]),
             ("model as server path", ["/etc", 30, 0, False, "en"]),
             ("model unknown", ["no_such_model", 30, 0, False, "en"]),
             ("lang xx", ["musicnn_genres", 30, 0, False, "xx"])]
    out += [(name, file_data(uploaded), inputs, "error") for name, inputs in weird]
    return out


def call(client: httpx.Client, base: str, audio, inputs) -> tuple[str, str]:
    body = json.dumps({"data": [audio, *inputs]})          # Infinity and NaN as JavaScript writes them
    r = client.post(f"{base}/gradio_api/call/classify", content=body,
                    headers={"content-type": "application/json"})
    if r.status_code != 200:
        return f"http {r.status_code}", r.text[:120]
    text = client.get(f"{base}/gradio_api/call/classify/{r.json()['event_id']}").text
    events = [line[6:].strip() for line in text.splitlines() if line.startswith("event:")]
    data = [line[5:].strip() for line in text.splitlines() if line.startswith("data:")]
    return (events[-1] if events else "none"), (data[-1] if data else "")


def header_cases(client: httpx.Client, base: str) -> list[tuple[str, int, int]]:
    """(name, status expected, status got) of the browser-facing checks."""
    port = base.rsplit(":", 1)[1]
    checks = [("foreign Host on /", "GET", "/", {"host": "evil.example"}, 400),
              ("rebinding Host on /config", "GET", "/config", {"host": f"evil.example:{port}"},
               400),
              ("foreign Origin on upload", "POST", "/gradio_api/upload",
               {"origin": "http://evil.example"}, 403),
              ("localhost:3000 Origin on queue", "POST", "/gradio_api/queue/join",
               {"origin": "http://localhost:3000"}, 403),
              ("cross-site fetch of /config", "GET", "/config",
               {"sec-fetch-site": "cross-site", "sec-fetch-mode": "cors"}, 403),
              ("preflight from another origin", "OPTIONS", "/gradio_api/upload",
               {"origin": "http://evil.example", "access-control-request-method": "POST"}, 403),
              ("same-origin page config", "GET", "/config",
               {"origin": base, "sec-fetch-site": "same-origin"}, 200)]
    out = []
    for name, method, path, headers, want in checks:
        kwargs = {"files": {"files": ("a.wav", b"RIFF")}} if method == "POST" else {}
        r = client.request(method, base + path, headers=headers, **kwargs)
        out.append((name, want, r.status_code))
    return out


def route_cases(client: httpx.Client, base: str, uploaded: str) -> list[tuple[str, int, int]]:
    """Issue 28: the page's other routes. (name, expected status, got)."""
    playlist = b"#EXTM3U\n#EXT-X-TARGETDURATION:1\n#EXTINF:1,\n/etc/passwd\n#EXT-X-ENDLIST\n"
    out = []

    def check(name, want, method, path, **kw):
        try:
            got = client.request(method, base + path, **kw).status_code
        except httpx.HTTPError as exc:
            got = type(exc).__name__
        out.append((name, want, got))

    check("process_recording with a playlist as video", 404, "POST",
          "/gradio_api/process_recording", files={"video": ("a.webm", playlist, "video/webm")})
    for url in ("http://93.184.215.14/x.png", "https://example.com/x.png", "//example.com/x",
                "file:///etc/passwd", "http:/example.com/x.jpg"):
        check(f"file= {url}", 404, "GET", f"/gradio_api/file={url}")
    check("file= /etc/passwd", 403, "GET", "/gradio_api/file=/etc/passwd")
    check("file= an upload", 200, "GET", f"/gradio_api/file={uploaded}")
    for fn in (10**9, -1, "x", 1.5):
        check(f"queue/join fn_index {fn!r}", 422, "POST", "/gradio_api/queue/join",
              json={"fn_index": fn, "data": [], "session_hash": "fuzz"})
    check("upload with an empty file name", 422, "POST", "/gradio_api/upload",
          files={"files": ("", b"abc")})
    check("queue/join body of 2 MB", 413, "POST", "/gradio_api/queue/join",
          content=b"{" + b" " * 2_000_000 + b"}", headers={"content-type": "application/json"})
    for path in ("/monitoring/summary", "/monitoring", "/gradio_api/proxy=http://127.0.0.1/",
                 "/gradio_api/vibe-code", "/gradio_api/queue/status", "/manifest.json",
                 "/gradio_api/run/classify", "/gradio_api/startup-events"):
        check(f"GET {path}", 404, "GET", path)
    check("POST /gradio_api/run/classify", 404, "POST", "/gradio_api/run/classify", json={})
    return out


def main(argv=None) -> int:
    argparse.ArgumentParser(description=__doc__.split("\n\n")[0]).parse_args(argv)
    failed = 0
    with tempfile.TemporaryDirectory(prefix="genrescope-fuzz-gradio-") as tmp:
        tmp = Path(tmp)
        clip, other, _ = rel.make_good_clips(tmp / "clips", seconds=4.0)
        secret = tmp / "secret-song.wav"              # a server file the client must not get
        secret.write_bytes(other.read_bytes())
        server = rel.start_server(tmp / "server", "--precision", "fp32")
        try:
            with httpx.Client(trust_env=False, timeout=30) as client:
                r = client.post(server.base + "/gradio_api/upload",
                                files={"files": ("clip.wav", clip.read_bytes(), "audio/wav")})
                uploaded = r.json()[0]              # as the client sees it: no server folder
                cache = next(server.tmpdir.glob("genrescope-gradio-*"))
                hidden = not uploaded.startswith(("/", str(server.tmpdir)))
                on_disk = cache / uploaded.split("/", 1)[1] if hidden else Path(uploaded)
                link = on_disk.parent / "link.wav"
                os.symlink(secret, link)            # a symlink inside the cache pointing out
                rows = []
                for name, audio, inputs, want in cases(server, secret, link, str(on_disk),
                                                       uploaded):
                    t0 = time.perf_counter()
                    try:
                        event, data = call(client, server.base, audio, inputs)
                    except httpx.TimeoutException:
                        event, data = "timeout", ""
                    alive = client.get(server.base + "/healthz").status_code == 200
                    page_error = event == "complete" and ("**Error:**" in data
                                                          or "**错误：**" in data)
                    got = ("refused" if event == "error" and REFUSED in data else
                           "error" if (event == "error" and len(data) > 10) or page_error else
                           "ok" if event == "complete" else f"{event} {data[:60]}")
                    good = alive and (got == want or (want == "error" and got == "refused"))
                    failed += not good
                    rows.append((name, want, got, time.perf_counter() - t0, alive, good))
                heads = header_cases(client, server.base)
                heads += route_cases(client, server.base, uploaded)
            copied = [p for p in server.tmpdir.rglob("*") if p.is_file() and not p.is_symlink()
                      and p.read_bytes() in (Path("/etc/passwd").read_bytes(),
                                             secret.read_bytes())]
        finally:
            log = server.stop()
    print("| case | expected | answer | time | /healthz after | pass |")
    print("|---|---|---|---|---|---|")
    for name, want, got, seconds, alive, good in rows:
        print(f"| {name} | {want} | {got} | {seconds:.2f} s | {'200' if alive else 'DOWN'} | "
              f"{'yes' if good else 'NO'} |")
    print()
    print("| browser-side check | expected | got |\n|---|---|---|")
    for name, want, got in heads:
        failed += want != got
        print(f"| {name} | {want} | {got} |")
    print()
    print(f"cases: {len(rows) + len(heads)}, failed: {failed}, server files copied into the "
          f"cache: {len(copied)}, tracebacks in the server log: {log.count('Traceback')}, "
          f"upload answer naming a server folder: {'no' if hidden else 'YES'}")
    if "Traceback" in log:                       # the last line of each, with its case
        print("\n".join(sorted({block.strip().splitlines()[-1]
                                for block in log.split("Traceback")[1:]})))
    return 1 if failed or copied or "Traceback" in log or not hidden else 0


if __name__ == "__main__":
    sys.exit(main())
