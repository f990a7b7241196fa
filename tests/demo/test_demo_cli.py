"""`python -m src.hrm.demo`: flags, the warning for another host, one-line errors, and the real command serving."""

import socket
import subprocess
import sys
import time
from pathlib import Path

import httpx
import pytest
import torch

from src.hrm.checkpoint import save_model
from src.hrm.demo import __main__ as demo
from src.hrm.modeling import ACTConfig, HRMACTInner, HRMACTModelConfig, TransformerConfig

REPO = Path(__file__).resolve().parents[2]


@pytest.fixture(scope="module")
def tiny(tmp_path_factory):
    torch.manual_seed(0)
    config = HRMACTModelConfig(transformers=TransformerConfig(num_layers=1, hidden_size=32, num_heads=2),
                               act=ACTConfig(halt_max_steps=2))
    path = tmp_path_factory.mktemp("demo-cli") / "tiny.safetensors"
    save_model(HRMACTInner(config), path)
    return path


@pytest.fixture
def served(monkeypatch):
    """Binding and serving replaced: what the command would serve, and where."""
    calls, bound = [], []
    monkeypatch.setattr(demo, "listen", lambda host, port: bound.append((host, port)) or socket.socket())
    monkeypatch.setattr(demo, "serve", lambda app, sock: calls.append((app, *bound[-1])))
    return calls


def test_serves_on_this_machine_by_default(tiny, served, capsys):
    assert demo.main([str(tiny), "--device", "cpu"]) == 0
    (app, host, port), = served
    assert (host, port) == ("127.0.0.1", 8000)
    err = capsys.readouterr().err
    assert "warning" not in err and "serving tiny.safetensors on http://127.0.0.1:8000/" in err


@pytest.mark.parametrize("host,warns", [("0.0.0.0", True), ("192.168.1.5", True), ("example.org", True),
                                        ("localhost", False), ("::1", False), ("127.0.0.2", False)])
def test_another_host_gets_a_warning(tiny, served, capsys, host, warns):
    assert demo.main([str(tiny), "--host", host, "--port", "9000", "--device", "cpu"]) == 0
    assert served[0][1:] == (host, 9000)
    err = capsys.readouterr().err
    assert ("demo: warning: listening on " + host in err) == warns


@pytest.mark.parametrize("args,message", [
    (["{tmp}/missing.safetensors"], "missing.safetensors: file not found"),
    (["{tiny}", "{tiny}"], "two sudoku checkpoints (tiny.safetensors, tiny.safetensors): give one per task"),
    (["{tiny}", "--port", "70000"], "--port must be 0 to 65535"),
])  # fmt: skip
def test_bad_input_is_one_line(tiny, served, capsys, tmp_path, args, message):
    code = demo.main([a.format(tmp=tmp_path, tiny=tiny) for a in args] + ["--device", "cpu"])
    err = capsys.readouterr().err
    assert code == 2 and not served
    assert len(err.strip().splitlines()) == 1 and message in err, err


@pytest.mark.parametrize("host", ["127.0.0.1", "192.0.2.1", "no-such-host.invalid"])
def test_a_port_in_use_or_a_bad_host_is_one_line(tiny, host):
    with socket.socket() as taken:
        taken.bind(("127.0.0.1", 0))
        taken.listen()
        port = taken.getsockname()[1]
        command = [sys.executable, "-m", "src.hrm.demo", str(tiny), "--host", host, "--port", str(port),
                   "--device", "cpu"]
        done = subprocess.run(command, cwd=REPO, capture_output=True, text=True, timeout=120)
    lines = [line for line in done.stderr.splitlines() if not line.startswith("demo: warning:")]
    assert done.returncode == 2 and len(lines) == 1, done.stderr
    assert lines[0].startswith(f"demo: error: cannot listen on {host}:{port}: ") and "serving" not in done.stderr


def test_the_command_serves_the_page(tiny):
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        port = probe.getsockname()[1]
    command = [sys.executable, "-m", "src.hrm.demo", str(tiny), "--port", str(port), "--device", "cpu"]
    server = subprocess.Popen(command, cwd=REPO, stderr=subprocess.PIPE, text=True)
    try:
        deadline = time.monotonic() + 120
        while True:
            try:
                page = httpx.get(f"http://127.0.0.1:{port}/", timeout=5)
                break
            except httpx.TransportError:
                assert server.poll() is None, server.stderr.read()
                assert time.monotonic() < deadline, "the server did not start"
                time.sleep(0.2)
        assert page.status_code == 200 and "demo.js" in page.text
        assert httpx.get(f"http://127.0.0.1:{port}/static/demo.js").status_code == 200
        info = httpx.get(f"http://127.0.0.1:{port}/api/info").json()
        assert list(info["tasks"]) == ["sudoku"]
    finally:
        server.terminate()
        server.wait(timeout=30)
        server.stderr.close()
