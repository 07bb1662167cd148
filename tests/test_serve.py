"""`python launch.py` / `studio serve` on a port it cannot have: one line saying why and what to do, exit 2,
before any model or detector loads."""

from __future__ import annotations

import socket
import subprocess
import sys
from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parents[1]


def _launch(*args: str) -> subprocess.CompletedProcess:
    return subprocess.run([sys.executable, str(REPO / "launch.py"), *args], capture_output=True, text=True,
                          timeout=300)  # fmt: skip


def _one_line_error(done: subprocess.CompletedProcess) -> str:
    assert done.returncode == 2, done.stderr
    lines = [line for line in done.stderr.splitlines() if line.strip()]
    assert len(lines) == 1 and lines[0].startswith("error: "), done.stderr  # no traceback
    return lines[0]


def test_a_port_in_use_is_named_with_another_to_try():
    with socket.socket() as holder:
        holder.bind(("127.0.0.1", 0))
        holder.listen(1)
        port = holder.getsockname()[1]
        line = _one_line_error(_launch("--port", str(port)))
    assert f"Port {port}" in line and "already in use" in line and f"--port {port + 1}" in line


@pytest.mark.parametrize("port", ["0", "70000", "-5"])
def test_a_port_outside_the_range_is_refused(port):
    assert "1 to 65535" in _one_line_error(_launch("--port", port))


def test_a_host_this_machine_does_not_have_is_refused():
    line = _one_line_error(_launch("--host", "no-such-host.invalid", "--port", "7899"))
    assert "--host 'no-such-host.invalid'" in line and "127.0.0.1" in line


def test_a_port_that_is_not_a_number_gets_argparses_usage_line():
    done = _launch("--port", "http")
    assert done.returncode == 2 and "invalid int value: 'http'" in done.stderr
