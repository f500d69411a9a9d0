"""The fault-injection suite: each test breaks something real (a file, a connection, a channel,
a CRM's pace), then checks that nothing acknowledged was lost, nothing was done twice, and that
the service recovered without a restart. Each test's figures are printed at the end of the run."""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

import pytest

from tests.faults.support import FIGURES


def pytest_terminal_summary(terminalreporter: Any) -> None:
    if not FIGURES:
        return
    terminalreporter.section("fault injection: figures")
    for tally in FIGURES:
        terminalreporter.write_line(tally.line())


@pytest.fixture
def chattr_works(tmp_path: Any) -> None:
    """Making a file immutable needs root (CAP_LINUX_IMMUTABLE) and a filesystem that has it."""
    import subprocess

    probe = tmp_path / "probe"
    probe.write_bytes(b"x")
    done = subprocess.run(["chattr", "+i", str(probe)], capture_output=True, check=False)
    if done.returncode != 0:
        pytest.skip(f"chattr +i is not possible here: {done.stderr.decode().strip()}")
    subprocess.run(["chattr", "-i", str(probe)], check=True)


@pytest.fixture(autouse=True)
def no_traceback_in_the_log(caplog: pytest.LogCaptureFixture) -> Iterator[None]:
    """A storage or channel fault is one clear log line per event, never a logged traceback."""
    yield
    spam = [record for record in caplog.records if record.exc_info]
    assert not spam, [f"{record.name}: {record.getMessage()}" for record in spam]
