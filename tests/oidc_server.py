"""Start the test OpenID Connect provider (tests/oidc_provider: panva's oidc-provider on Node.js)
on a free port and stop it afterwards. It fails, never skips, when Node.js or the package is
missing: .ci/run installs it (``npm ci`` in tests/oidc_provider)."""

from __future__ import annotations

import shutil
import socket
import subprocess
import time
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

import httpx
import pytest

FOLDER = Path(__file__).resolve().parent / "oidc_provider"
INSTALL = f"cd {FOLDER} && npm ci --no-audit --no-fund"
CLIENT_ID = "slaflow-dashboard"
CLIENT_SECRET = "test-client-secret-0123456789"


def free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return int(probe.getsockname()[1])


@contextmanager
def oidc_provider(redirect_uri: str) -> Iterator[str]:
    """Run the provider for ``redirect_uri``; yields its issuer URL."""
    node = shutil.which("node")
    if node is None:
        pytest.fail("the OIDC browser test needs Node.js (node 20+) on PATH")
    if not (FOLDER / "node_modules" / "oidc-provider").is_dir():
        pytest.fail(f"the test OIDC provider is not installed; run: {INSTALL}")
    port = free_port()
    env = {"PATH": "/usr/bin:/bin", "OIDC_PORT": str(port), "OIDC_CLIENT_ID": CLIENT_ID,
           "OIDC_CLIENT_SECRET": CLIENT_SECRET, "OIDC_REDIRECT_URI": redirect_uri}
    process = subprocess.Popen([node, "server.mjs"], cwd=FOLDER, env=env, stdout=subprocess.PIPE,
                               stderr=subprocess.STDOUT, text=True)
    issuer = f"http://127.0.0.1:{port}"
    try:
        deadline = time.monotonic() + 30
        while time.monotonic() < deadline:
            if process.poll() is not None:
                output = process.stdout.read() if process.stdout else ""
                pytest.fail(f"the OIDC provider exited with {process.returncode}: {output}")
            try:
                if httpx.get(f"{issuer}/.well-known/openid-configuration", timeout=1).status_code == 200:
                    break
            except httpx.HTTPError:
                time.sleep(0.1)
        else:
            pytest.fail("the OIDC provider did not answer within 30 s")
        yield issuer
    finally:
        process.terminate()
        try:
            process.wait(10)
        except subprocess.TimeoutExpired:
            process.kill()
            process.wait()
        if process.stdout:
            process.stdout.close()
