"""A notification channel that is slow, answers 500, 429 (with an absurd Retry-After) or garbage
(bytes that are not HTTP): every attempt is recorded, no message is lost or parked for ever, each
is sent exactly once as slaflow sees it, and delivery resumes by itself when the channel does.

The channel is a real HTTP server on a loopback port that misbehaves on the first requests for
each message (by its idempotency key), then answers 200."""

from __future__ import annotations

import socketserver
import threading
import time
from collections import Counter
from collections.abc import Iterator
from datetime import timedelta

import pytest
from sqlalchemy import func, select
from sqlalchemy.orm import Session, sessionmaker

from notifications import events
from notifications.config import notifications_config
from notifications.outbox import dispatch_due
from notifications.settings import NotificationSettings
from org.chart import Company
from storage.models import DeliveryAttempt, OutboxMessage
from tests.conftest import MONDAY_0900_MSK
from tests.faults.support import FIGURES, ChannelTally

NOW = MONDAY_0900_MSK + timedelta(hours=1)
PEOPLE = ["orlov", "ivanov", "kuznetsova", "morozova", "popov"]
BAD_ANSWERS = 2
"""Misbehaving answers per message before the channel works again."""
TIMEOUT = 0.3


class Channel(socketserver.ThreadingTCPServer):
    daemon_threads = True
    allow_reuse_address = True

    def __init__(self, mode: str) -> None:
        super().__init__(("127.0.0.1", 0), Handler)
        self.mode = mode
        self.lock = threading.Lock()
        self.requests: Counter[str] = Counter()
        self.accepted: Counter[str] = Counter()
        """200 answers per idempotency key."""


class Handler(socketserver.StreamRequestHandler):
    server: Channel

    def handle(self) -> None:
        head = b""
        while b"\r\n\r\n" not in head:
            chunk = self.request.recv(65536)
            if not chunk:
                return
            head += chunk
        headers = dict(line.split(": ", 1) for line in head.split(b"\r\n\r\n")[0].decode().split("\r\n")[1:])
        length = int(headers.get("Content-Length", headers.get("content-length", "0")))
        body = head.split(b"\r\n\r\n", 1)[1]
        while len(body) < length:
            body += self.request.recv(65536)
        key = headers.get("X-Slaflow-Idempotency-Key") or headers.get("x-slaflow-idempotency-key") or "?"
        with self.server.lock:
            self.server.requests[key] += 1
            bad = self.server.requests[key] <= BAD_ANSWERS
        if bad and self.server.mode == "slow":
            time.sleep(TIMEOUT * 3)  # then answer as if nothing happened: the client has given up
        elif bad:
            self.wfile.write(MISBEHAVIOUR[self.server.mode])
            return
        with self.server.lock:
            self.server.accepted[key] += 1
        self.wfile.write(b"HTTP/1.1 200 OK\r\nContent-Type: application/json\r\nContent-Length: 11\r\n"
                         b"Connection: close\r\n\r\n{\"ok\":true}")


MISBEHAVIOUR = {
    "500": b"HTTP/1.1 500 Internal Server Error\r\nContent-Length: 5\r\nConnection: close\r\n\r\noops!",
    "429": (b"HTTP/1.1 429 Too Many Requests\r\nRetry-After: 1e308\r\nContent-Length: 0\r\n"
            b"Connection: close\r\n\r\n"),
    "garbage": b"\x00\xff\xfe garbage that is not HTTP \x00\r\n\r\n",
}


@pytest.fixture(params=["slow", "500", "429", "garbage"])
def channel(request: pytest.FixtureRequest) -> Iterator[Channel]:
    server = Channel(request.param)
    thread = threading.Thread(target=server.serve_forever, kwargs={"poll_interval": 0.02}, daemon=True)
    thread.start()
    yield server
    server.shutdown()
    server.server_close()
    thread.join(5)


def test_a_misbehaving_channel(
    channel: Channel, sessions: sessionmaker[Session], company: Company, db_url: str
) -> None:
    port = channel.server_address[1]
    settings = NotificationSettings(webhook_url=f"http://127.0.0.1:{port}/hook", webhook_secret="s3cret",
                                    http_timeout=TIMEOUT)
    with sessions.begin() as session:
        ids = [events.test_message(session, company, person=p, channel="webhook", now=NOW) for p in PEOPLE]
    config = notifications_config(company)
    now, rounds = NOW, 0
    while rounds < 10:
        rounds += 1
        dispatch_due(sessions, company, now=now, owner=f"worker-{rounds}", settings=settings)
        with sessions() as session:
            if session.scalar(select(func.count()).where(OutboxMessage.status != "sent")) == 0:
                break
            waits = [m.next_attempt_at - now for m in session.scalars(select(OutboxMessage))
                     if m.status == "pending"]
        assert all(wait <= timedelta(seconds=config.backoff_max_seconds) for wait in waits), waits
        now += timedelta(seconds=config.backoff_max_seconds + 1)
    with sessions() as session:
        statuses = Counter(session.scalars(select(OutboxMessage.status)))
        attempts = Counter((a.message_id, a.ok) for a in session.scalars(select(DeliveryAttempt)))
    tally = ChannelTally(f"channel {channel.mode}", "postgresql" if "postgresql" in db_url else "sqlite")
    tally.sent = sum(channel.requests.values())
    tally.lost = len(ids) - statuses["sent"]
    tally.doubled = sum(1 for message in ids if attempts[(message, True)] > 1)
    tally.extra.update({"messages": len(ids), "dispatch rounds": rounds,
                        "attempts recorded": sum(attempts.values())})
    FIGURES.append(tally)
    assert statuses == {"sent": len(ids)}
    assert tally.doubled == 0 and all(attempts[(message, True)] == 1 for message in ids)
    # Every try is a row: each failed answer (or timeout, or connection error) and the success.
    assert all(attempts[(message, False)] >= BAD_ANSWERS for message in ids), attempts
    assert sum(attempts.values()) >= tally.sent
    assert len(channel.accepted) == len(ids)
    if channel.mode != "slow":  # a slow channel may have taken a message whose answer we gave up on
        assert set(channel.accepted.values()) == {1}
