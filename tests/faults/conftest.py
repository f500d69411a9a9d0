"""The fault-injection suite: each test breaks something real (a file, a connection, a channel,
a CRM's pace), then checks that nothing acknowledged was lost, nothing was done twice, and that
the service recovered without a restart. Each test's figures are printed at the end of the run."""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

import pytest

from tests.conftest import FIGURES_SECTION
from tests.faults.support import FIGURES


@pytest.hookimpl(hookwrapper=True)
def pytest_runtest_makereport(item: pytest.Item, call: pytest.CallInfo[None]) -> Iterator[None]:
    """Each test's figures ride on its report (tests run in xdist workers; tests/conftest.py
    prints them at the end of the run)."""
    outcome: Any = yield
    if FIGURES:
        outcome.get_result().user_properties.append((FIGURES_SECTION, [tally.line() for tally in FIGURES]))
        FIGURES.clear()


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
