"""A real ``genrescope serve`` for browser tests that need their own server
options (``--db``...): started on a free loopback port, stopped at the end."""

from __future__ import annotations

import contextlib
import os
import signal
import subprocess
import sys
import time
import urllib.request
from pathlib import Path

import pytest
from netutil import free_port  # noqa: E402

REPO = Path(__file__).resolve().parents[1]


@contextlib.contextmanager
def running_server(args: list[str], tmp: Path, start_timeout_s: float = 180,
                   log_path: Path | None = None):
    """Run ``genrescope serve --port P *args`` (TMPDIR ``tmp``) until the block ends.

    Its output goes to ``log_path`` (default ``tmp.parent / "server-PORT.log"``),
    which stays there to be read after the server stopped.

    Yields
    ------
    str
        The base URL, once ``/healthz`` answers.
    """
    port = free_port()
    env = dict(os.environ, GRADIO_ANALYTICS_ENABLED="False", TMPDIR=str(tmp))
    env.pop("GRADIO_TEMP_DIR", None)
    with open(log_path or tmp.parent / f"server-{port}.log", "w+") as log:
        proc = subprocess.Popen([sys.executable, "-m", "genrescope.cli", "serve", "--port",
                                 str(port), *args], cwd=REPO, env=env, stdout=log,
                                stderr=subprocess.STDOUT)
        base = f"http://127.0.0.1:{port}"
        direct = urllib.request.build_opener(urllib.request.ProxyHandler({}))   # no proxy
        try:
            deadline = time.monotonic() + start_timeout_s
            while True:
                with contextlib.suppress(OSError), direct.open(base + "/healthz", timeout=2) as r:
                    if r.status == 200:
                        break
                if proc.poll() is not None or time.monotonic() > deadline:
                    log.seek(0)
                    pytest.fail(f"genrescope serve did not start:\n{log.read()[-3000:]}")
                time.sleep(0.5)
            yield base
        finally:
            proc.send_signal(signal.SIGTERM)
            try:
                proc.wait(30)
            except subprocess.TimeoutExpired:
                proc.kill()
                proc.wait(10)


@contextlib.contextmanager
def in_process_server(app, start_timeout_s: float = 120):
    """``app`` on a real loopback socket, uvicorn in a daemon thread (a request
    that freezes the event loop fails the test instead of hanging it).

    Yields
    ------
    str
        The base URL, once the server has started.
    """
    import threading

    import uvicorn

    port = free_port()
    server = uvicorn.Server(uvicorn.Config(app, host="127.0.0.1", port=port,
                                           log_level="warning"))
    thread = threading.Thread(target=server.run, daemon=True)
    thread.start()
    deadline = time.monotonic() + start_timeout_s
    while not server.started:
        assert thread.is_alive() and time.monotonic() < deadline, "server did not start"
        time.sleep(0.05)
    try:
        yield f"http://127.0.0.1:{port}"
    finally:
        server.should_exit = True
        thread.join(10)
