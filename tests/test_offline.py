"""No network: the server binds loopback unless told otherwise (and says so
when told), and classification and the server work in a network namespace
whose only interface is loopback (``unshare -n``). Nothing of an upload is
kept after its request unless ``--save-dir``.
"""

from __future__ import annotations

import json
import shutil
import subprocess
import sys
import tempfile
import textwrap
from pathlib import Path

import pytest
import soundfile as sf

from genrescope.cli import main
from genrescope.synth import chord, groove
from netutil import free_port  # noqa: E402

REPO = Path(__file__).resolve().parents[1]


# ------------------------------------------------- what `serve` binds and says
@pytest.fixture
def fake_uvicorn(monkeypatch, tmp_path):
    """``uvicorn.Server`` replaced by a recorder: serve() builds the app, loads
    the model and prints its lines, but listens nowhere."""
    import uvicorn

    configs = []

    class Recorder:
        def __init__(self, config):
            configs.append(config)

        def run(self):
            pass

    monkeypatch.setattr(uvicorn, "Server", Recorder)
    monkeypatch.setattr(tempfile, "tempdir", str(tmp_path))   # its temporary folders: here
    (tmp_path / "gradio").mkdir()
    monkeypatch.setenv("GRADIO_TEMP_DIR", str(tmp_path / "gradio"))   # serve() sets it otherwise
    return configs


@pytest.mark.parametrize("host_args, host, note", [
    ([], "127.0.0.1", False),                       # the default
    (["--host", "localhost"], "localhost", False),
    (["--host", "0.0.0.0"], "0.0.0.0", True),        # every interface: it must say so
])
def test_serve_binds_loopback_unless_told(fake_uvicorn, capsys, host_args, host, note):
    port = free_port()
    assert main(["serve", "--port", str(port), "--device", "cpu", *host_args]) == 0
    out = capsys.readouterr().out
    assert [c.host for c in fake_uvicorn] == [host] and fake_uvicorn[0].port == port
    shown = "127.0.0.1" if host == "0.0.0.0" else host
    assert f"page http://{shown}:{port}/" in out
    if note:
        assert f"NOTE: listening on {host}" in out and "other machines" in out
        assert "--host 127.0.0.1" in out                  # and how to undo it
    else:
        assert "other machines" not in out and "NOTE" not in out


# ----------------------------------------------------- inside `unshare -n`
INNER = textwrap.dedent('''
    """Runs inside `unshare -n`: loopback up, then the CLI and the server."""
    import json, os, socket, subprocess, sys
    from pathlib import Path

    import httpx

    sys.path.insert(0, os.path.join(sys.argv[1], "benchmarks"))
    import reliability as rel

    clip, work = Path(sys.argv[2]), Path(sys.argv[3])
    out = {}
    subprocess.run(["ip", "link", "set", "lo", "up"], check=True)
    out["links"] = [line.split(":")[1].strip() for line in subprocess.run(
        ["ip", "-o", "link"], capture_output=True, text=True, check=True).stdout.splitlines()]
    try:                                                  # the outside world is not there
        socket.create_connection(("1.1.1.1", 80), timeout=3).close()
        out["outside"] = "connected"
    except OSError as exc:
        out["outside"] = f"{type(exc).__name__}: {exc}"

    cli = subprocess.run([*rel.serve_command(), "classify", str(clip), "--format", "json"],
                         capture_output=True, text=True, timeout=300, cwd=work)
    out["cli"] = {"rc": cli.returncode, "stdout": cli.stdout, "stderr": cli.stderr[-3000:]}

    def listening(port):
        """Local addresses listening on `port` (from /proc/net/tcp and tcp6)."""
        found = []
        for table in ("/proc/net/tcp", "/proc/net/tcp6"):
            for line in Path(table).read_text().splitlines()[1:]:
                local, state = line.split()[1], line.split()[3]
                addr, p = local.split(":")
                if state == "0A" and int(p, 16) == port:       # LISTEN
                    raw = bytes.fromhex(addr)
                    if len(raw) == 4:
                        found.append(socket.inet_ntop(socket.AF_INET, raw[::-1]))
                    else:
                        found.append(socket.inet_ntop(socket.AF_INET6, b"".join(
                            raw[i:i + 4][::-1] for i in range(0, 16, 4))))
        return found

    def session(name, *args):
        server = rel.start_server(work / name, *args)
        res = {"listening": listening(int(server.base.rsplit(":", 1)[1]))}
        try:
            with httpx.Client(trust_env=False, timeout=300) as client:
                res["healthz"] = client.get(server.base + "/healthz").json()
                r = rel.post(client, server.base, clip.name, clip.read_bytes())
                res["status"], res["body"] = r.status_code, r.json()
            res["left_running"] = server.leftovers()
            res["cwd"] = sorted(p.name for p in server.cwd.iterdir())
        finally:
            res["log"] = server.stop()
        res["left_after"] = sorted(server.files())
        return res

    out["serve"] = session("plain")
    kept = work / "kept"
    out["save"] = session("save", "--save-dir", str(kept), "--host", "0.0.0.0")
    out["kept"] = {p.suffix: p.read_text() if p.suffix == ".json" else p.stat().st_size
                   for p in sorted(kept.iterdir())}
    out["kept_count"] = len(list(kept.iterdir()))
    print(json.dumps(out))
''')


@pytest.fixture(scope="module")
def netns_runner():
    """``unshare -n`` + ``ip``, or a skip saying why they cannot be used."""
    missing = [tool for tool in ("unshare", "ip") if shutil.which(tool) is None]
    if missing:
        pytest.skip(f"{' and '.join(missing)} not found: install util-linux / iproute2 to run "
                    "the no-network test")
    probe = subprocess.run(["unshare", "-n", "ip", "link", "set", "lo", "up"],
                           capture_output=True, text=True)
    if probe.returncode != 0:
        pytest.skip("cannot create a network namespace here (needs root or user "
                    f"namespaces): {probe.stderr.strip()}")
    return ["unshare", "-n"]


@pytest.mark.slow
def test_classify_and_serve_without_network(netns_runner, tmp_path):
    sr = 22050
    clip = tmp_path / "offline clip.wav"
    sf.write(clip, 0.6 * chord(8.0, sr) + 0.4 * groove(8.0, sr), sr, subtype="PCM_16")
    inner = tmp_path / "inner.py"
    inner.write_text(INNER)
    work = tmp_path / "work"
    work.mkdir()
    run = subprocess.run([*netns_runner, sys.executable, str(inner), str(REPO), str(clip),
                          str(work)], capture_output=True, text=True, timeout=540)
    assert run.returncode == 0, run.stderr[-4000:]
    out = json.loads(run.stdout.strip().splitlines()[-1])

    assert out["links"] == ["lo"], out["links"]               # loopback only
    assert out["outside"] != "connected" and "unreachable" in out["outside"].lower()

    cli = out["cli"]
    assert cli["rc"] == 0, cli["stderr"]
    result = json.loads(cli["stdout"])[0]
    assert len(result["top"]) == 5 and "error" not in result

    plain, save = out["serve"], out["save"]
    for s in (plain, save):
        assert s["healthz"]["status"] == "ok", s
        assert s["status"] == 200 and len(s["body"]["top"]) == 5, s["body"]
        assert s["body"]["file"] == clip.name
        assert s["left_running"] == [] and s["cwd"] == [], s   # no upload, nothing in cwd
        assert s["left_after"] == [], s["left_after"]
        assert "Traceback" not in s["log"], s["log"]
    # the default binds loopback only and says nothing; 0.0.0.0 is announced
    assert plain["listening"] == ["127.0.0.1"], plain["listening"]
    assert "other machines" not in plain["log"]
    assert save["listening"] == ["0.0.0.0"] and "NOTE: listening on 0.0.0.0" in save["log"]
    # the same top-1 from the CLI and the server
    assert plain["body"]["top"][0]["label"] == result["top"][0]["label"]
    # --save-dir keeps exactly the upload and its result
    kept = out["kept"]
    assert set(kept) == {".json", ".wav"} and out["kept_count"] == 2
    assert kept[".wav"] == clip.stat().st_size
    assert json.loads(kept[".json"])["top"] == save["body"]["top"]
