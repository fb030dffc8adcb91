"""Cold start: a new process's time to its first answer, for one or more source trees.

    .venv/bin/python benchmarks/bench_cold_start.py [--trees TREE ...] [--runs 5]
        [--model musicnn_genres] [--no-serve]

Measured for each tree, alternating the trees within each run so that they
share the machine's state (load, disk cache) as evenly as possible:

* ``classify``: ``genrescope classify clip.mp3`` (a synthesised 30 s, 44.1 kHz
  stereo MP3) in a fresh process, from the process start to the answer printed
  (its first line of output), and to the process's exit;
* ``serve``: ``genrescope serve`` start to ready (``GET /healthz`` answers),
  then the first ``POST /api/v1/classify`` of the clip timed on its own, then
  the second one: the first answer should be as fast as the second.

Every tree runs with the same Python (this interpreter, its packages) and
``PYTHONPATH=<tree>``, in an empty working folder, with its own cache folder
(``$GENRESCOPE_CACHE``) kept across the runs of that tree, so run 1 is the
first ever start of that tree and later runs reuse what it cached. For a
before/after figure make a baseline tree with ``git worktree add /tmp/gs-base
<commit>`` and pass ``--trees /tmp/gs-base .``; the first tree is the baseline
the ratios refer to. ``--trees .,OMP_WAIT_POLICY=PASSIVE`` runs a tree with
environment variables set (to compare settings on the same code). The load average is printed before and after: figures
from a busy machine are only comparable within the same run.
"""

from __future__ import annotations

import argparse
import os
import statistics
import subprocess
import sys
import tempfile
import time
from dataclasses import dataclass
from pathlib import Path

import numpy as np
from netutil import free_port

ROOT = Path(__file__).resolve().parent.parent
LAUNCH = "import sys; from genrescope.cli import main; sys.exit(main())"


def write_clip(path: Path, duration_s: float = 30.0, sr: int = 44100) -> Path:
    """A synthesised stereo MP3 (chords and a groove), written with soundfile."""
    import soundfile as sf

    t = np.arange(int(duration_s * sr)) / sr
    rng = np.random.default_rng(0)
    chord = sum(np.sin(2 * np.pi * f * t) / (k + 1) for k, f in enumerate((220, 277.2, 329.6)))
    beat = np.exp(-(t % 0.5) * 30) * rng.standard_normal(len(t))
    y = 0.3 * chord / 1.8 + 0.2 * beat
    sf.write(path, np.stack([y, 0.9 * y], axis=1).astype(np.float32), sr, format="MP3")
    return path


@dataclass(frozen=True)
class Tree:
    """A source tree and the environment variables it runs with."""

    path: Path
    env: tuple = ()

    @classmethod
    def parse(cls, spec: str) -> "Tree":
        """``PATH[,NAME=VALUE...]``: e.g. ``.,OMP_WAIT_POLICY=PASSIVE``."""
        path, *assignments = spec.split(",")
        return cls(Path(path).resolve(), tuple(tuple(a.split("=", 1)) for a in assignments))

    def __str__(self) -> str:
        return " ".join([str(self.path), *(f"{k}={v}" for k, v in self.env)])


def environment(tree: Tree, cache: Path) -> dict:
    env = dict(os.environ, PYTHONPATH=str(tree.path), GENRESCOPE_CACHE=str(cache), **dict(tree.env))
    env.pop("GENRESCOPE_MODELS", None)
    return env


def time_classify(python: str, tree: Tree, cache: Path, clip: Path, model: str,
                  workdir: Path) -> tuple[float, float]:
    """(seconds to the first line of output, seconds to exit) of one cold ``classify``."""
    t0 = time.perf_counter()
    proc = subprocess.Popen([python, "-c", LAUNCH, "classify", str(clip), "--model", model],
                            cwd=workdir, env=environment(tree, cache), stdout=subprocess.PIPE,
                            stderr=subprocess.PIPE, text=True)
    first = proc.stdout.readline()
    t_answer = time.perf_counter() - t0
    out, err = proc.communicate()
    t_exit = time.perf_counter() - t0
    if proc.returncode != 0 or not first.strip():
        raise RuntimeError(f"classify failed in {tree} ({proc.returncode}): {err[-2000:]}")
    return t_answer, t_exit


def time_serve(python: str, tree: Tree, cache: Path, clip: Path, model: str,
               workdir: Path, timeout_s: float = 300) -> tuple[float, float, float]:
    """Seconds from ``serve`` start to ready, of its first classify answer, of the second."""
    import httpx

    port = free_port()
    base = f"http://127.0.0.1:{port}"
    data = clip.read_bytes()
    t0 = time.perf_counter()
    proc = subprocess.Popen([python, "-c", LAUNCH, "serve", "--port", str(port), "--model", model],
                            cwd=workdir, env=environment(tree, cache),
                            stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, text=True)
    try:
        while True:
            if proc.poll() is not None:
                raise RuntimeError(f"serve exited in {tree}: {proc.stderr.read()[-2000:]}")
            if time.perf_counter() - t0 > timeout_s:
                raise RuntimeError(f"serve in {tree} was not ready in {timeout_s} s")
            try:
                if httpx.get(f"{base}/healthz", timeout=timeout_s).status_code == 200:
                    break
            except httpx.TransportError:
                pass
            time.sleep(0.05)
        ready = time.perf_counter() - t0
        answers = []
        for _ in range(2):
            t1 = time.perf_counter()
            r = httpx.post(f"{base}/api/v1/classify", files={"file": (clip.name, data)},
                           timeout=timeout_s)
            r.raise_for_status()
            answers.append(time.perf_counter() - t1)
        return ready, answers[0], answers[1]
    finally:
        proc.terminate()
        try:
            proc.wait(15)
        except subprocess.TimeoutExpired:
            proc.kill()
            proc.wait()


def describe(tree: Tree) -> str:
    if tree.env:
        return f"{describe(Tree(tree.path))} with {' '.join(f'{k}={v}' for k, v in tree.env)}"
    tree = tree.path
    try:
        rev = subprocess.run(["git", "-C", str(tree), "rev-parse", "--short", "HEAD"],
                             capture_output=True, text=True, check=True).stdout.strip()
        dirty = subprocess.run(["git", "-C", str(tree), "status", "--porcelain", "--",
                                "genrescope"], capture_output=True, text=True).stdout.strip()
        return f"{tree} ({rev}{' + uncommitted changes' if dirty else ''})"
    except (OSError, subprocess.CalledProcessError):
        return str(tree)


def main(argv=None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--trees", nargs="+", type=Tree.parse, default=[Tree(ROOT)],
                        help="source trees (the first is the baseline), each PATH or "
                        "PATH,NAME=VALUE,... (environment variables for it); default: this one")
    parser.add_argument("--runs", type=int, default=5, help="runs per tree (default 5)")
    parser.add_argument("--model", default="musicnn_genres")
    parser.add_argument("--no-serve", action="store_true", help="measure classify only")
    args = parser.parse_args(argv)
    trees = args.trees
    python = sys.executable
    print(f"load average before: {' '.join(f'{x:.2f}' for x in os.getloadavg())}; "
          f"{os.cpu_count()} CPUs; python {python}")
    for i, tree in enumerate(trees):
        print(f"tree {i}: {describe(tree)}")
    results: dict[tuple[int, str], list[float]] = {}
    with tempfile.TemporaryDirectory(prefix="gs-cold-") as tmp:
        tmp = Path(tmp)
        clip = write_clip(tmp / "clip30.mp3")
        work = tmp / "work"
        work.mkdir()
        caches = [tmp / f"cache{i}" for i in range(len(trees))]
        for run in range(args.runs):
            order = list(range(len(trees)))
            if run % 2:
                order.reverse()                       # alternate who goes first
            for i in order:
                answer, exit_s = time_classify(python, trees[i], caches[i], clip, args.model, work)
                results.setdefault((i, "classify: answer printed"), []).append(answer)
                results.setdefault((i, "classify: process exit"), []).append(exit_s)
                if not args.no_serve:
                    ready, first, second = time_serve(python, trees[i], caches[i], clip,
                                                      args.model, work)
                    results.setdefault((i, "serve: start to ready"), []).append(ready)
                    results.setdefault((i, "serve: 1st answer"), []).append(first)
                    results.setdefault((i, "serve: 2nd answer"), []).append(second)
                    results.setdefault((i, "serve: start to 1st answer"), []).append(ready + first)
            print(f"run {run + 1}/{args.runs} done", file=sys.stderr, flush=True)
    print(f"load average after: {' '.join(f'{x:.2f}' for x in os.getloadavg())}")
    print(f"\nmodel {args.model}, 30 s MP3 clip, {args.runs} runs per tree (seconds)\n")
    print("| measure | tree | median | min | max | ratio to tree 0 | runs |")
    print("|---|---|---|---|---|---|---|")
    stages = list(dict.fromkeys(stage for _, stage in results))
    for stage in stages:
        base = statistics.median(results[(0, stage)])
        for i in range(len(trees)):
            v = results[(i, stage)]
            med = statistics.median(v)
            print(f"| {stage} | {i} | {med:.2f} | {min(v):.2f} | {max(v):.2f} | "
                  f"{med / base:.2f} | {' '.join(f'{x:.2f}' for x in v)} |")
    return 0


if __name__ == "__main__":
    sys.exit(main())
