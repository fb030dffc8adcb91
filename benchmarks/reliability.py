"""Reliability report: every bad-input case through the CLI and the API, and a
load run of the real server. Regenerates ``docs/reliability.md``:

    .venv/bin/python benchmarks/reliability.py

Options: ``--out FILE`` (default docs/reliability.md), ``--long-hours H``
(length of the long corpus file, default 2; 0 leaves it out), ``--clients``
and ``--requests`` of the load run (default 16 and 400), ``--json`` (also
print the figures as JSON).

What it does:

1. writes the bad-input corpus (tests/corpus.py) into a temporary folder;
2. CLI: ``genrescope classify FILE --format json`` for each case (in-process,
   ``genrescope.cli.main``): exit status, top-1 or the error, warnings;
3. API: starts ``genrescope serve`` (defaults: 127.0.0.1, the default model,
   100 MB upload limit) in a subprocess with its own TMPDIR and posts each
   case to ``/api/v1/classify``: status, top-1 or the error, warnings;
4. load: starts a fresh server and sends ``--requests`` requests from
   ``--clients`` threads (httpx), mixing three synthetic 8 s clips (whose
   top-1 is taken from one request each first) and the corpus without the
   long file; records requests/second, latency percentiles, 5xx count,
   top-1 mismatches, the server's RSS after 50 and after all requests, and
   what is left in its temporary folder.

The helpers (:func:`start_server`, :func:`load_jobs`, :func:`run_load`) are
also used by tests/test_load.py and tests/test_offline.py.
"""

from __future__ import annotations

import argparse
import contextlib
import io
import json
import os
import platform
import queue
import signal
import subprocess
import sys
import tempfile
import threading
import time
from dataclasses import asdict, dataclass, field
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO))
sys.path.insert(0, str(REPO / "tests"))

import httpx  # noqa: E402
import numpy as np  # noqa: E402
import soundfile as sf  # noqa: E402
from netutil import free_port

#: Folders ``genrescope serve`` deliberately keeps in its TMPDIR for its
#: lifetime (demo clips; the page's upload cache). Removed when it stops.
LIFETIME_PREFIXES = ("genrescope-web-", "genrescope-gradio-")
#: What follows this line in the report is written by other scripts
#: (bomb_memory.py, fuzz_api.py, fuzz_gradio.py) and kept when it is regenerated.
KEEP_MARK = ("<!-- Sections below: figures of benchmarks/bomb_memory.py, fuzz_api.py and "
             "fuzz_gradio.py, kept when this report is regenerated. -->")


# --------------------------------------------------------------------- server


def serve_command() -> list[str]:
    """``genrescope`` of this interpreter's environment (console script when
    installed, else ``python -m genrescope.cli``)."""
    script = Path(sys.executable).with_name("genrescope")
    return [str(script)] if script.exists() else [sys.executable, "-m", "genrescope.cli"]


@dataclass
class Server:
    """A ``genrescope serve`` subprocess."""

    proc: subprocess.Popen
    base: str
    tmpdir: Path                  # its TMPDIR
    cwd: Path                     # its working folder
    log_path: Path
    baseline: set = field(default_factory=set)    # TMPDIR once started

    def rss_kb(self) -> int:
        """VmRSS of the server process, KiB."""
        for line in Path(f"/proc/{self.proc.pid}/status").read_text().splitlines():
            if line.startswith("VmRSS:"):
                return int(line.split()[1])
        raise RuntimeError("no VmRSS")

    def log(self) -> str:
        return self.log_path.read_text(errors="replace")

    def files(self) -> set[str]:
        """Everything in its TMPDIR, as paths relative to it."""
        return {str(p.relative_to(self.tmpdir)) for p in self.tmpdir.rglob("*")}

    def leftovers(self) -> list[str]:
        """What its TMPDIR holds now and did not hold once it had started:
        only the folders it keeps for its lifetime (``LIFETIME_PREFIXES``)
        and their start-up contents may be there."""
        return sorted(self.files() - self.baseline)

    def stop(self, timeout: float = 30) -> str:
        """SIGTERM (as Ctrl+C), then SIGKILL if needed; returns the log."""
        if self.proc.poll() is None:
            self.proc.send_signal(signal.SIGTERM)
            try:
                self.proc.wait(timeout)
            except subprocess.TimeoutExpired:
                self.proc.kill()
                self.proc.wait(10)
        return self.log()


def start_server(workdir: str | Path, *args: str, timeout: float = 180,
                 env: dict | None = None) -> Server:
    """``genrescope serve --port P *args`` on a free loopback port, with
    TMPDIR ``workdir/tmp`` and working folder ``workdir/cwd`` (both fresh);
    returns once ``/healthz`` answers."""
    workdir = Path(workdir)
    tmpdir, cwd = workdir / "tmp", workdir / "cwd"
    tmpdir.mkdir(parents=True)
    cwd.mkdir(parents=True)
    port = free_port()
    environ = dict(os.environ, GRADIO_ANALYTICS_ENABLED="False", TMPDIR=str(tmpdir),
                   PYTHONUNBUFFERED="1", **(env or {}))
    environ.pop("GRADIO_TEMP_DIR", None)
    log_path = workdir / "server.log"
    with open(log_path, "w") as log:
        proc = subprocess.Popen([*serve_command(), "serve", "--port", str(port), *args],
                                cwd=cwd, env=environ, stdout=log, stderr=subprocess.STDOUT)
    server = Server(proc, f"http://127.0.0.1:{port}", tmpdir, cwd, log_path)
    deadline = time.monotonic() + timeout
    with httpx.Client(trust_env=False, timeout=2) as client:
        while True:
            with contextlib.suppress(httpx.HTTPError):
                if client.get(server.base + "/healthz").status_code == 200:
                    server.baseline = server.files()
                    return server
            if proc.poll() is not None or time.monotonic() > deadline:
                server.stop()
                raise RuntimeError(f"genrescope serve did not start:\n{server.log()[-3000:]}")
            time.sleep(0.3)


def post(client: httpx.Client, base: str, name: str, content: bytes, **data) -> httpx.Response:
    return client.post(base + "/api/v1/classify", files={"file": (name, content)},
                       data={k: str(v) for k, v in data.items()})


def outcome(r: httpx.Response) -> dict:
    """status, top1 / error, warning codes of one answer."""
    try:
        body = r.json()
    except ValueError:
        body = {"error": f"(not JSON) {r.text[:80]}"}
    out = {"status": r.status_code}
    if r.status_code == 200:
        out["top1"] = body["top"][0]["label"]
        out["warnings"] = sorted(w["code"] for w in body["warnings"])
    else:
        out["error"] = body.get("error", str(body))
    return out


# ----------------------------------------------------------------------- load
GOOD_CLIPS = {  # name -> (synth function, kwargs): three clearly different sounds
    "chords.wav": ("chord", {"root_hz": 196.0}),
    "groove.wav": ("groove", {"bpm": 128.0}),
    "bursts.wav": ("noise_burst", {}),
}


def make_good_clips(folder: str | Path, seconds: float = 8.0, sr: int = 22050) -> list[Path]:
    from genrescope import synth

    folder = Path(folder)
    folder.mkdir(parents=True, exist_ok=True)
    paths = []
    for name, (fn, kwargs) in GOOD_CLIPS.items():
        path = folder / name
        sf.write(path, getattr(synth, fn)(seconds, sr, **kwargs), sr, subtype="PCM_16")
        paths.append(path)
    return paths


@dataclass
class Job:
    name: str
    path: Path
    good: bool                      # a reference clip: top-1 must match
    expect_ok: bool                 # 200 expected (else 4xx)
    warnings: set = field(default_factory=set)


def load_jobs(clips: list[Path], cases, n: int = 400, good_share: float = 0.6,
              seed: int = 0) -> list[Job]:
    """``n`` jobs in a shuffled but fixed order: ``good_share`` of them the
    reference clips, the rest the corpus cases (slow ones left out)."""
    cases = [c for c in cases if not c.slow]
    n_good = round(n * good_share)
    jobs = [Job(p.name, p, True, True) for p in (clips * n)[:n_good]]
    jobs += [Job(c.name, c.path, False, c.ok, set(c.warnings))
             for c in (cases * n)[:n - n_good]]
    order = np.random.default_rng(seed).permutation(len(jobs))
    return [jobs[i] for i in order]


@dataclass
class LoadResult:
    clients: int
    requests: int
    answered: int
    wall_s: float
    rps: float
    p50_s: float
    p95_s: float
    max_s: float
    status_counts: dict
    n_5xx: int
    mismatches: list                # good clips whose top-1 differed from the reference
    unexpected: list                # corpus cases with the wrong kind of answer
    failures: list                  # transport errors / not sent before the deadline
    rss_kb_50: int
    rss_kb_mid: int                 # after half the requests: the heap has warmed up
    rss_kb_end: int
    reference: dict                 # clip -> top-1 from a single request

    @property
    def rss_growth(self) -> float:
        return self.rss_kb_end / self.rss_kb_50 - 1


def run_load(server: Server, clips: list[Path], cases, *, clients: int = 16,
             requests: int = 400, deadline_s: float = 600, checkpoint: int = 50,
             request_timeout_s: float = 120) -> LoadResult:
    """References first (one request per clip), then ``requests`` jobs from
    ``clients`` threads; RSS read when ``checkpoint`` answers are in, when
    half are, and at the end. Stops sending at ``deadline_s`` (unsent jobs
    count as failures)."""
    data = {}
    with httpx.Client(trust_env=False, timeout=120) as client:
        reference = {}
        for path in clips:
            data[path] = path.read_bytes()
            r = post(client, server.base, path.name, data[path])
            r.raise_for_status()
            reference[path.name] = r.json()["top"][0]["label"]
    jobs = load_jobs(clips, cases, requests)
    for job in jobs:
        if job.path not in data:
            data[job.path] = job.path.read_bytes()
    todo: queue.Queue = queue.Queue()
    for i, job in enumerate(jobs):
        todo.put((i, job))
    results: list = [None] * len(jobs)
    lock, done, rss = threading.Lock(), [0], {}
    t0 = time.monotonic()
    end = t0 + deadline_s                          # no new request after this

    def worker():
        with httpx.Client(trust_env=False, timeout=request_timeout_s) as client:
            while time.monotonic() < end:
                try:
                    i, job = todo.get_nowait()
                except queue.Empty:
                    return
                start = time.monotonic()
                try:
                    r = post(client, server.base, job.name, data[job.path])
                    res = outcome(r) | {"latency": time.monotonic() - start}
                except httpx.HTTPError as exc:
                    res = {"status": None, "error": f"{type(exc).__name__}: {exc}"}
                results[i] = res
                with lock:
                    done[0] += 1
                    if done[0] == checkpoint:
                        rss["50"] = server.rss_kb()
                    if done[0] == len(jobs) // 2:
                        rss["mid"] = server.rss_kb()

    threads = [threading.Thread(target=worker, daemon=True) for _ in range(clients)]
    for t in threads:
        t.start()
    for t in threads:
        t.join(max(0.0, end - time.monotonic()) + request_timeout_s + 10)
    wall = time.monotonic() - t0
    rss_end = server.rss_kb()
    latencies = [r["latency"] for r in results if r and "latency" in r]
    statuses: dict = {}
    mismatches, unexpected, failures = [], [], []
    for job, res in zip(jobs, results):
        if res is None or res["status"] is None:
            failures.append({"name": job.name, **(res or {"error": "not sent"})})
            continue
        statuses[res["status"]] = statuses.get(res["status"], 0) + 1
        if job.good:
            if res.get("top1") != reference[job.name]:
                mismatches.append({"name": job.name, **res})
        elif job.expect_ok != (res["status"] == 200) or (
                res["status"] == 200 and not job.warnings <= set(res["warnings"])) or (
                res["status"] != 200 and not 400 <= res["status"] < 500):
            unexpected.append({"name": job.name, **res})
    answered = len(latencies)
    return LoadResult(
        clients=clients, requests=len(jobs), answered=answered, wall_s=wall,
        rps=answered / wall if wall else 0.0,
        p50_s=float(np.percentile(latencies, 50)) if latencies else float("nan"),
        p95_s=float(np.percentile(latencies, 95)) if latencies else float("nan"),
        max_s=max(latencies, default=float("nan")),
        status_counts=dict(sorted(statuses.items())),
        n_5xx=sum(v for k, v in statuses.items() if k >= 500),
        mismatches=mismatches, unexpected=unexpected, failures=failures,
        rss_kb_50=rss.get("50", 0), rss_kb_mid=rss.get("mid", 0), rss_kb_end=rss_end,
        reference=reference)


# ----------------------------------------------------------------- the report
def cli_outcome(path: Path) -> dict:
    """``genrescope classify PATH --format json`` in-process."""
    from genrescope.cli import main

    out, err = io.StringIO(), io.StringIO()
    with contextlib.redirect_stdout(out), contextlib.redirect_stderr(err):
        code = main(["classify", str(path), "--format", "json"])
    res = {"exit": code}
    try:
        row = json.loads(out.getvalue())[0]
    except (ValueError, IndexError):
        row = {"error": err.getvalue().strip().removeprefix("genrescope: error: ")}
    if "error" in row:                      # the corpus folder is a temporary one: not shown
        res["error"] = row["error"].replace(str(path.parent) + os.sep, "")
    else:
        res["top1"] = row["top"][0]["label"]
        res["warnings"] = sorted(w["code"] for w in row["warnings"])
    return res


def first_words(text: str, n: int = 9) -> str:
    words = text.split()
    return " ".join(words[:n]) + (" …" if len(words) > n else "")


def _cell(res: dict, code_key: str) -> str:
    head = f"{res[code_key]}"
    if "top1" in res:
        return f"{head} `{res['top1']}`"
    return f"{head}: {first_words(res.get('error', ''))}".replace("|", "\\|")


def machine() -> dict:
    model = next((line.split(":", 1)[1].strip() for line in
                  Path("/proc/cpuinfo").read_text().splitlines()
                  if line.startswith("model name")), platform.processor() or "?")
    import torch

    return {"cpus": os.cpu_count(), "cpu_model": model,
            "mem_gib": round(os.sysconf("SC_PAGE_SIZE") * os.sysconf("SC_PHYS_PAGES") / 2**30, 1),
            "python": platform.python_version(), "torch": torch.__version__,
            "torch_threads": torch.get_num_threads(), "platform": platform.platform(),
            "gpu": torch.cuda.get_device_name(0) if torch.cuda.is_available() else None}


def render(cases, cli: dict, api: dict, load: LoadResult, info: dict, args) -> str:
    lines = [
        "# Reliability",
        "",
        "Generated by `" + info["command"] + "` on " + info["date"] + " — do not edit by "
        "hand (the sections after the marker at the end are kept).",
        "",
        f"Machine: {info['cpus']} CPU cores ({info['cpu_model']}), {info['mem_gib']} GiB RAM, "
        f"Python {info['python']}, torch {info['torch']} ({info['torch_threads']} threads), "
        + (f"GPU {info['gpu']} (used by the server). " if info["gpu"] else "no GPU. ")
        + f"Load average (1/5/15 min) at start {info['load_start']}, before the load run "
        f"{info['load_before_load']}, at the end {info['load_end']} — the cores are shared "
        "with other processes, so the timings below are indicative only.",
        "",
        "## Bad input",
        "",
        "Each file of the bad-input corpus (`tests/corpus.py`) through the CLI "
        "(`genrescope classify FILE --format json`: exit status, then the top-1 label or the "
        "first words of the error) and the API (`POST /api/v1/classify` on "
        "`genrescope serve` with its defaults: HTTP status, then top-1 or error). "
        "\"Warnings\" are the warning codes of the answer (CLI and API agree unless both are "
        "shown); \"expected\" is what the corpus requires (a prediction with at least those "
        "warnings, or a user error). `ambiguous` means the top genre has under 60 %.",
        "",
        "| input | description | expected | CLI | API | warnings |",
        "|---|---|---|---|---|---|",
    ]
    for case in cases:
        c, a = cli[case.name], api[case.name]
        expected = ("prediction" + (f" + {', '.join(sorted(case.warnings))}"
                                    if case.warnings else "")) if case.ok else "user error"
        w_cli, w_api = c.get("warnings"), a.get("warnings")
        if w_cli is not None and w_api is not None and w_cli != w_api:
            warn = f"CLI: {', '.join(w_cli) or '—'}; API: {', '.join(w_api) or '—'}"
        else:
            warn = ", ".join(w_cli if w_cli is not None else (w_api or [])) or "—"
        lines.append(f"| `{case.name}` | {case.description} | {expected} | {_cell(c, 'exit')} "
                     f"| {_cell(a, 'status')} | {warn} |")
    over = [c.name for c in cases if api[c.name]["status"] == 413]
    lines += [""]
    if over:
        lines += [f"{', '.join('`' + n + '`' for n in over)}: larger than the server's default "
                  "upload limit (`--max-upload-mb 100`), so the API refuses it with 413 while "
                  "the upload streams in (tests/test_api.py); with `--max-upload-mb 200` it is "
                  "analysed as through the CLI (tests/test_reliability.py).", ""]
    bad = [c.name for c in cases
           if (cli[c.name]["exit"] == 0) != c.ok or (api[c.name]["status"] >= 500)]
    lines += [f"Unexpected outcomes: {', '.join(bad) if bad else 'none'}. "
              f"5xx answers: {sum(a['status'] >= 500 for a in api.values())}.", ""]
    growth = f"{load.rss_growth:+.1%}" if load.rss_kb_50 else "n/a"
    lines += [
        "## Load",
        "",
        f"A freshly started `genrescope serve` (default model, CPU), {load.clients} concurrent "
        f"clients (threads, one httpx client each) sending {load.requests} requests: "
        f"{round(load.requests * 0.6)} of three synthetic 8 s clips "
        f"({', '.join(f'`{k}` → `{v}`' for k, v in load.reference.items())}, top-1 taken from "
        "one request each beforehand) and the rest cycling through the corpus above "
        "without the long file. The server runs at most two analyses at a time; the others "
        "wait. Latency is per request as the client sees it (upload, wait, analysis, answer).",
        "",
        "| figure | value |",
        "|---|---|",
        f"| requests answered | {load.answered} of {load.requests} |",
        f"| wall time | {load.wall_s:.1f} s |",
        f"| requests/second | {load.rps:.2f} |",
        f"| latency p50 / p95 / max | {load.p50_s:.2f} s / {load.p95_s:.2f} s / "
        f"{load.max_s:.2f} s |",
        f"| HTTP statuses | {', '.join(f'{k}: {v}' for k, v in load.status_counts.items())} |",
        f"| 5xx answers | {load.n_5xx} |",
        f"| good clips with a different top-1 | {len(load.mismatches)} |",
        f"| corpus answers not as expected | {len(load.unexpected)} |",
        f"| transport errors / unsent | {len(load.failures)} |",
        f"| server RSS after 50 requests | {load.rss_kb_50 / 1024:.0f} MiB |",
        f"| server RSS after {load.requests} requests | {load.rss_kb_end / 1024:.0f} MiB "
        f"({growth}) |",
        f"| files left in the server's TMPDIR while running | {len(info['left_running'])} |",
        f"| files left in the server's TMPDIR after it stopped | {len(info['left_after'])} |",
        "",
        "While running, the server's TMPDIR holds only the folders it keeps for its lifetime "
        "(`genrescope-web-*`: the page's demo clips; `genrescope-gradio-*`: the page's "
        "cache); each API upload lives in its own `genrescope-upload-*` folder only while "
        "its request runs. tests/test_load.py asserts the same run: no 5xx, every good clip "
        "with its reference top-1, RSS after the run within 20 % of RSS after 50 requests, "
        "no upload left.",
        "",
        "## Uploads and file names",
        "",
        "Each API upload is streamed into its own `genrescope-upload-*` folder under the "
        "server's TMPDIR as `upload<.ext>` (only a plain extension of the client's name is "
        "kept) and removed with the answer; `--save-dir DIR` keeps a copy and the JSON "
        "result under a time-stamped name. tests/test_reliability.py sends names such as "
        "`../../etc/evil.wav`, `/tmp/abs.wav`, `..\\..\\x.wav`, `名字 with spaces ♫.wav`, "
        "`..` and an empty name, byte for byte in the multipart header, and checks that "
        "nothing appears at those paths (relative to the server's working folder, its "
        "TMPDIR, an upload folder and `/`), nor anywhere in the test's folders or at the "
        "top of `/tmp`; the page's own upload route "
        "keeps such files inside its cache in TMPDIR. Malformed multipart bodies get 422, "
        "and the `model` field takes only the names of `GET /api/v1/models` (not server "
        "paths), so a client can neither load files from the server's disk nor learn "
        "which of its folders exist.",
        "",
        "## Network",
        "",
        "`genrescope serve` binds 127.0.0.1 unless `--host` says otherwise, and then prints "
        "a note that the page and API are reachable from other machines. "
        "tests/test_offline.py checks both messages, and runs `genrescope classify` and "
        "the server inside a network namespace with only the loopback interface "
        "(`unshare -n`): the CLI answers with a top-5, the server answers `/healthz` and a "
        "classification, listens on 127.0.0.1 only, keeps nothing of the upload, and with "
        "`--save-dir` keeps exactly the upload and its result.",
        "",
    ]
    return "\n".join(lines)


def main(argv=None) -> int:
    p = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    p.add_argument("--out", default=str(REPO / "docs" / "reliability.md"))
    p.add_argument("--long-hours", type=float, default=2.0)
    p.add_argument("--clients", type=int, default=16)
    p.add_argument("--requests", type=int, default=400)
    p.add_argument("--json", action="store_true", help="also print the figures as JSON")
    args = p.parse_args(argv)
    os.environ["GRADIO_ANALYTICS_ENABLED"] = "False"
    from corpus import make_corpus

    command = "python benchmarks/reliability.py" + "".join(
        f" {a}" for a in (argv if argv is not None else sys.argv[1:]))
    info = {"command": command, "date": time.strftime("%Y-%m-%d %H:%M %Z"),
            "load_start": " / ".join(f"{x:.2f}" for x in os.getloadavg()), **machine()}
    with tempfile.TemporaryDirectory(prefix="genrescope-reliability-") as work:
        work = Path(work)
        print("writing the corpus ...", file=sys.stderr)
        cases = make_corpus(work / "corpus", long_hours=args.long_hours)
        cli = {}
        for case in cases:
            cli[case.name] = cli_outcome(case.path)
            print(f"CLI {case.name}: {cli[case.name]}", file=sys.stderr)
        server = start_server(work / "api")
        api = {}
        try:
            with httpx.Client(trust_env=False, timeout=300) as client:
                for case in cases:
                    with open(case.path, "rb") as f:
                        api[case.name] = outcome(post(client, server.base, case.name, f))
                    print(f"API {case.name}: {api[case.name]}", file=sys.stderr)
        finally:
            server.stop()
        clips = make_good_clips(work / "clips")
        info["load_before_load"] = " / ".join(f"{x:.2f}" for x in os.getloadavg())
        server = start_server(work / "load")
        try:
            print(f"load: {args.clients} clients, {args.requests} requests ...", file=sys.stderr)
            load = run_load(server, clips, cases, clients=args.clients, requests=args.requests)
            info["left_running"] = server.leftovers()
        finally:
            server.stop()
        info["left_after"] = [str(p.relative_to(server.tmpdir)) for p in server.tmpdir.rglob("*")]
        info["load_end"] = " / ".join(f"{x:.2f}" for x in os.getloadavg())
    text = render(cases, cli, api, load, info, args)
    out = Path(args.out)
    before = out.read_text(encoding="utf-8") if out.exists() else ""
    kept = before[before.index(KEEP_MARK):] if KEEP_MARK in before else KEEP_MARK + "\n"
    out.write_text(text.rstrip("\n") + "\n\n" + kept, encoding="utf-8")
    print(f"wrote {args.out}", file=sys.stderr)
    if args.json:
        print(json.dumps({"cli": cli, "api": api, "load": asdict(load), "machine": info},
                         indent=2, ensure_ascii=False, default=str))
    return 0


if __name__ == "__main__":
    sys.exit(main())
