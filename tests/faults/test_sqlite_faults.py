"""SQLite under storage faults: the file made read-only, deleted while serving, the disk full.
While the fault lasts every write is refused with 503 (never acknowledged and then lost) and
/health/ready says so; once it clears the same app process serves again."""

from __future__ import annotations

import contextlib
import os
import shutil
import sqlite3
import subprocess
from collections.abc import Iterator
from pathlib import Path

import pytest

from api.testing import TestClient, serving, write_config
from core.clock import SimulatedClock
from crm import samples
from tests.faults.support import Tally, Workload, verify

N = 4
"""Cases and webhooks per phase (before, during and after the fault)."""


@pytest.fixture
def client(sqlite_url: str, tmp_path: Path, clock: SimulatedClock) -> Iterator[TestClient]:
    with serving(sqlite_url, write_config(tmp_path), clock, samples.SAMPLE_ENV) as client:
        yield client


def db_file(url: str) -> Path:
    return Path(url.removeprefix("sqlite:///"))


def settle(client: TestClient) -> None:
    assert client.app.state.slaflow.pipeline.wait_idle(30)  # type: ignore[attr-defined]


def run_fault(client: TestClient, clock: SimulatedClock, tally: Tally, url: str,
              inject: contextlib.AbstractContextManager[None]) -> None:
    work = Workload(client, clock, tally)
    assert set(work.round("before", N)) <= {200, 201} and work.ready() == 200
    settle(client)
    with inject:
        assert work.ready() == 503
        assert client.get("/health/live").status_code == 200  # alive: no restart wanted
        during = work.round("during", N)
        assert set(during) == {503}, during
        assert work.ready() == 503
    assert work.wait_ready() == 200  # the same process, no restart
    assert set(work.round("after", N)) <= {200, 201}
    work.retry_pending()
    settle(client)
    verify(url, tally)


@contextlib.contextmanager
def immutable(*paths: Path) -> Iterator[None]:
    """``chattr +i``: even root cannot write (the -shm file is mapped memory and stays writable)."""
    for path in paths:
        subprocess.run(["chattr", "+i", str(path)], check=True)
    try:
        yield
    finally:
        for path in paths:
            subprocess.run(["chattr", "-i", str(path)], check=True)


@pytest.mark.usefixtures("chattr_works")
def test_the_database_made_read_only(client: TestClient, clock: SimulatedClock, sqlite_url: str) -> None:
    path = db_file(sqlite_url)
    run_fault(client, clock, Tally("database read-only (chattr +i)", "sqlite"), sqlite_url,
              immutable(path, path.with_name(path.name + "-wal")))


@contextlib.contextmanager
def deleted(path: Path) -> Iterator[None]:
    """The file unlinked while serving (as ``rm`` would), put back afterwards (as ``mv`` back)."""
    kept = path.with_name(path.name + ".kept")
    os.link(path, kept)
    path.unlink()
    try:
        yield
    finally:
        os.link(kept, path)
        kept.unlink()


def test_the_database_file_deleted_while_serving(client: TestClient, clock: SimulatedClock, sqlite_url: str) -> None:
    run_fault(client, clock, Tally("database file deleted", "sqlite"), sqlite_url, deleted(db_file(sqlite_url)))


def test_a_write_is_refused_when_the_file_disappears_inside_its_transaction(
    client: TestClient, clock: SimulatedClock, sqlite_url: str
) -> None:
    """The race the checkout check cannot see: the file goes after the transaction began."""
    from sqlalchemy import text

    from storage.faults import StorageUnavailable

    sessions = client.app.state.slaflow.sessions  # type: ignore[attr-defined]
    path = db_file(sqlite_url)
    with pytest.raises(StorageUnavailable, match="is missing; the write was not made"), sessions.begin() as session:
        session.execute(text("UPDATE alembic_version SET version_num = version_num || ''"))
        with deleted(path):
            session.flush()
            session.commit()
    tally = Tally("file deleted inside a transaction", "sqlite")
    work = Workload(client, clock, tally)
    assert work.wait_ready() == 200 and set(work.round("after", 2)) <= {200, 201}
    settle(client)
    verify(sqlite_url, tally)


@contextlib.contextmanager
def disk_full(folder: Path) -> Iterator[None]:
    """Fill the filesystem holding ``folder`` to the last byte; free it afterwards."""
    filler = folder / "filler"
    fd = os.open(filler, os.O_WRONLY | os.O_CREAT, 0o600)
    try:
        for size in (1 << 20, 65536, 4096, 512, 64, 1):  # unbuffered, down to the last byte
            with contextlib.suppress(OSError):
                while os.write(fd, b"\0" * size):
                    pass
    finally:
        os.close(fd)
    try:
        yield
    finally:
        filler.unlink()


@pytest.fixture
def tmpfs(tmp_path: Path) -> Iterator[Path]:
    """A 16 MB tmpfs: a disk that can really fill up (needs mount rights: root)."""
    mount = tmp_path / "tmpfs"
    mount.mkdir()
    done = subprocess.run(["mount", "-t", "tmpfs", "-o", "size=16m", "tmpfs", str(mount)], capture_output=True,
                          check=False)
    if done.returncode != 0:
        pytest.skip(f"cannot mount a tmpfs here: {done.stderr.decode().strip()}")
    try:
        yield mount
    finally:
        subprocess.run(["umount", "-l", str(mount)], check=False)


def test_the_disk_full(tmpfs: Path, sqlite_template: Path, tmp_path: Path, clock: SimulatedClock) -> None:
    path = tmpfs / "slaflow.db"
    shutil.copy(sqlite_template, path)
    url = f"sqlite:///{path}"
    with serving(url, write_config(tmp_path), clock, samples.SAMPLE_ENV) as client:
        run_fault(client, clock, Tally("disk full (16 MB tmpfs)", "sqlite"), url, disk_full(tmpfs))


def test_the_database_file_replaced_while_serving(client: TestClient, clock: SimulatedClock, sqlite_url: str) -> None:
    """A copy moved over the file (a new inode, as a restore by ``mv`` would): connections still
    on the old file may not commit into it; the service moves over to the new file by itself."""
    tally = Tally("database file replaced (mv over it)", "sqlite")
    work = Workload(client, clock, tally)
    assert set(work.round("before", N)) <= {200, 201}
    settle(client)
    path = db_file(sqlite_url)
    copy = path.with_name("copy.db")
    with sqlite3.connect(path) as source, sqlite3.connect(copy) as target:
        source.backup(target)
    os.replace(copy, path)
    during = work.round("during", N)
    assert set(during) <= {200, 201, 503}, during
    assert work.wait_ready() == 200
    assert set(work.round("after", N)) <= {200, 201}
    work.retry_pending()
    settle(client)
    verify(sqlite_url, tally)  # everything acknowledged is in the file now at the path
