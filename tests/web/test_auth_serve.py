"""``radnec serve`` as a process: it prints a login link; without the token 401, with it 200; a token file works."""

from __future__ import annotations

import os
import re
import signal
import subprocess
import sys
from pathlib import Path

import httpx


def _serve(*args: str) -> tuple[subprocess.Popen, str]:
    exe = Path(sys.executable).with_name("radnec")
    proc = subprocess.Popen([str(exe), "serve", "--port", "0", "--no-demo", *args], stdout=subprocess.PIPE,
                            stderr=subprocess.PIPE, text=True)
    assert proc.stdout is not None
    for line in proc.stdout:
        m = re.search(r"(http://127\.0\.0\.1:\d+)/login\?token=(\S+)", line)
        if m:
            return proc, line
    raise AssertionError(f"no login link printed: {proc.stderr.read() if proc.stderr else ''}")


def test_serve_prints_a_login_link_and_guards_every_request(tmp_path):
    proc, line = _serve("--data", str(tmp_path / "data"))
    try:
        m = re.search(r"(http://127\.0\.0\.1:\d+)/login\?token=(\S+)", line)
        assert m is not None
        base, token = m.group(1), m.group(2)
        assert len(token) >= 40
        assert httpx.get(f"{base}/api/health").status_code == 401
        assert httpx.get(f"{base}/api/health", headers={"Authorization": f"Bearer {token}"}).json()["ok"] is True
        with httpx.Client(base_url=base) as c:
            assert c.get(f"/login?token={token}").status_code == 303  # the cookie is set
            assert c.get("/api/cases").json() == []
    finally:
        proc.send_signal(signal.SIGINT)
        proc.wait(timeout=30)


def test_serve_reads_the_token_file(tmp_path):
    token_file = tmp_path / "token"
    token_file.write_text("a-long-enough-secret-token\n")
    os.chmod(token_file, 0o600)
    proc, line = _serve("--data", str(tmp_path / "data"), "--token-file", str(token_file))
    try:
        assert "a-long-enough-secret-token" not in line
        base = re.search(r"(http://127\.0\.0\.1:\d+)", line).group(1)  # type: ignore[union-attr]
        ok = httpx.get(f"{base}/api/cases", headers={"Authorization": "Bearer a-long-enough-secret-token"})
        assert ok.status_code == 200
    finally:
        proc.send_signal(signal.SIGINT)
        proc.wait(timeout=30)
    token_file.write_text("short")
    exe = Path(sys.executable).with_name("radnec")
    bad = subprocess.run([str(exe), "serve", "--port", "0", "--token-file", str(token_file), "--data", str(tmp_path / "d2")],
                         capture_output=True, text=True, timeout=60)
    assert bad.returncode == 2 and "16 characters" in bad.stderr and "Traceback" not in bad.stderr
