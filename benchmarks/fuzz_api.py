"""Fuzz the REST API of a real ``genrescope serve`` with Schemathesis (a
``dev`` extra) from the server's own OpenAPI schema:

    .venv/bin/python benchmarks/fuzz_api.py                      # 300 examples per operation
    .venv/bin/python benchmarks/fuzz_api.py --max-examples 2000 --seed 7
    .venv/bin/python benchmarks/fuzz_api.py --db                 # with the library routes

Starts the server on a free loopback port (its own TMPDIR, fp32), runs
``schemathesis run <base>/openapi.json --checks all`` except
``positive_data_acceptance`` (the schema says "any bytes" for ``file``; only
decodable audio is accepted, which a schema cannot state: those cases answer
422 by design), then checks that the server still answers ``/healthz``,
logged no traceback and left no upload behind. Prints the figures; the exit
status is Schemathesis's (0: no failure).
"""

from __future__ import annotations

import argparse
import re
import subprocess
import sys
import tempfile
from pathlib import Path

import httpx

sys.path.insert(0, str(Path(__file__).resolve().parent))
import reliability as rel  # noqa: E402


def main(argv=None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--max-examples", type=int, default=300)
    parser.add_argument("--seed", type=int, default=1)
    parser.add_argument("--workers", type=int, default=2)
    parser.add_argument("--max-time", type=int, default=1200, help="seconds for the whole run")
    parser.add_argument("--db", action="store_true",
                        help="serve a small library (four synthesised clips, `genrescope "
                             "index`) with --db: the /api/v1/library routes are fuzzed too")
    args = parser.parse_args(argv)
    exe = Path(sys.executable).with_name("schemathesis")
    if not exe.exists():
        sys.exit("fuzz_api: schemathesis is not installed: pip install -e '.[dev]'")
    with tempfile.TemporaryDirectory(prefix="genrescope-fuzz-") as tmp:
        extra = []
        if args.db:
            from bomb_memory import library_db

            extra = ["--db", str(library_db(Path(tmp) / "library"))]
        server = rel.start_server(Path(tmp) / "server", "--precision", "fp32", *extra)
        try:
            run = subprocess.run(
                [str(exe), "run", f"{server.base}/openapi.json", "--checks", "all",
                 "--exclude-checks", "positive_data_acceptance",
                 "--max-examples", str(args.max_examples), "--seed", str(args.seed),
                 "--workers", str(args.workers), "--max-time", str(args.max_time),
                 "--request-timeout", "300", "--no-color", "--suppress-health-check", "all"],
                capture_output=True, text=True, cwd=tmp)   # its cache folder: there
            with httpx.Client(trust_env=False, timeout=10) as client:
                alive = client.get(server.base + "/healthz").status_code == 200
            leftovers = server.leftovers()
        finally:
            log = server.stop()
    out = run.stdout
    summary = out[out.rfind("SUMMARY"):] if "SUMMARY" in out else out[-3000:]
    if "FAILURES" in out:                       # what failed, each with its curl command
        print(out[out.find("FAILURES"):out.rfind("SUMMARY")][:8000].strip(), end="\n\n")
    cases = re.search(r"(\d+) generated", summary)
    server_errors = len(re.findall(r"\[5\d\d\]", out))
    print(summary.strip())
    print()
    print("| figure | value |\n|---|---|")
    print(f"| Schemathesis | {run.returncode == 0 and 'no failures' or 'FAILURES (see above)'} |")
    print(f"| test cases generated | {cases.group(1) if cases else '?'} |")
    print(f"| 5xx answers | {server_errors} |")
    print(f"| /healthz after the run | {'200' if alive else 'no answer'} |")
    print(f"| tracebacks in the server log | {log.count('Traceback')} |")
    print(f"| files left in TMPDIR while running | {len(leftovers)} |")
    return run.returncode


if __name__ == "__main__":
    sys.exit(main())
