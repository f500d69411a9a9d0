"""Webhook ingestion benchmark: how many signed webhooks per second one uvicorn worker accepts and
stores (committed before the 2xx), at what latency, and how long until each case is open.

    .venv/bin/python bench/webhooks.py --quick            # SQLite, well under a minute
    .venv/bin/python bench/webhooks.py --pg postgresql://postgres@127.0.0.1:5432/test

The server runs in a subprocess (``uvicorn api.app:app_from_env --factory``, one worker); the load
comes from ``wrk`` in another process (a Lua script cycles through pre-signed, unique generic
webhooks, each of which opens a ``rush_delivery`` case), or, if wrk is missing, from a Python
httpx generator in a subprocess (said in the output). Phase 1 saturates the server with a closed
loop of connections: accepted-and-stored per second and p50/p99 latency. Phase 2 sends a steady
50 webhooks/s and measures the time from sending a webhook until its case is open. Floors measured
in the same run: ``sqlite_http_floor_rps`` (wrk against ``/health/live`` on the same server just
before the load: what HTTP alone costs on this machine now; ``http_floor_ratio`` is how far the
webhook rate is from it) and, in this process on a fresh SQLite file, ``sqlite_floor_insert_rps``
(the same inbox rows inserted with plain ``sqlite3``, one transaction each),
``sqlite_floor_open_case_rps`` (the engine's ``open_case`` alone, one case per transaction, no
HTTP, no inbox) and ``sqlite_floor_open_case_batch_rps`` (the same, as many cases per transaction
as the pipeline's batches): processing cannot beat the latter; ``processing_floor_ratio`` is how
far it is from it. Without ``--quick`` the backlog left after the load is drained with no request
arriving (``drain_rps``: processing alone).

``--processor process`` (the default, what ``slaflow serve`` runs) starts ``slaflow inbox work``
beside the server, which then only stores (``SLAFLOW_INBOX_PROCESSOR=process``); ``thread``
processes in the server's own pipeline thread, as before. CPU time per request of the server and
per case of the processor (``/proc``) hold on a busy machine where rates do not: they are compared
with the server's CPU per ``/health/live`` request and the floor's per batched ``open_case``
(``http_cpu_floor_ratio``, ``processor_cpu_floor_ratio``), and give the cores the target needs
(``cores_needed_for_target``: 1,000 x the CPU of a stored request + 1,000 x that of a processed
case; ``cores_needed_at_floors``: the same at the floors' CPU). ``machine_busy_share`` and
``machine_stolen_share`` (``/proc/stat`` over the load): how busy the whole machine was, and how
much of its time the hypervisor gave to other guests (on this project's virtual machine whole runs
go at half speed then, ``http_floor_rps`` with them). The last line printed is one JSON object."""

from __future__ import annotations

import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path[0:1] = [str(ROOT)]  # bench/ holds calendar.py, which would shadow the standard library's

import argparse  # noqa: E402
import asyncio  # noqa: E402
import json  # noqa: E402
import os  # noqa: E402
import re  # noqa: E402
import shutil  # noqa: E402
import socket  # noqa: E402
import statistics  # noqa: E402
import subprocess  # noqa: E402
import tempfile  # noqa: E402
import time  # noqa: E402
import uuid  # noqa: E402
from typing import Any  # noqa: E402

import httpx  # noqa: E402
from sqlalchemy import create_engine, func, select, text  # noqa: E402

from bench.procstat import cpu_seconds, machine_ticks, shares  # noqa: E402
from core.clock import SystemClock  # noqa: E402
from core.vocabulary import InboxStatus  # noqa: E402
from crm.adapters.generic import sign  # noqa: E402
from crm.config import crm_config  # noqa: E402
from crm.pipeline import MAX_PROCESS_BATCH  # noqa: E402
from crm.processing import integration_actor  # noqa: E402
from crm.processor import PROCESSOR_ENV  # noqa: E402
from crm.samples import SAMPLE_ENV  # noqa: E402
from engine.cases import open_case  # noqa: E402
from runtime.company import load_company  # noqa: E402
from runtime.settings import EXAMPLE_COMPANY  # noqa: E402
from storage.db import make_engine, migrate, normalise_url, session_factory  # noqa: E402
from storage.models import Case, InboxEvent  # noqa: E402

TARGET_RPS = 1000
TARGET_PROCESSING_RPS = 1000
TARGET_P99_MS = 50.0
SECRET = SAMPLE_ENV["SLAFLOW_GENERIC_SECRET"]
PATH = "/webhooks/generic"

LUA = r"""
local requests, count, index = {}, 0, 0
function init(args)
  for line in io.lines(args[1]) do
    local ts, sig, body = line:match("^([^\t]*)\t([^\t]*)\t(.*)$")
    count = count + 1
    requests[count] = wrk.format("POST", "%(path)s", {["Content-Type"] = "application/json",
      ["X-Slaflow-Timestamp"] = ts, ["X-Slaflow-Signature"] = sig}, body)
  end
end
function request()
  index = index + 1
  if index > count then index = 1 end
  return requests[index]
end
"""


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--quick", action="store_true", help="short phases (under a minute)")
    parser.add_argument("--pg", help="also run on this PostgreSQL server URL (default: $SLAFLOW_TEST_PG_URL)")
    parser.add_argument("--duration", type=float, help="seconds of saturating load per database")
    parser.add_argument("--connections", type=int, default=16, help="concurrent connections of the load generator")
    parser.add_argument("--python-load", action="store_true", help="use the Python generator even if wrk exists")
    parser.add_argument("--processor", choices=("process", "thread"), default="process",
                        help="process webhooks in a processor process (slaflow inbox work) or in the HTTP process")
    parser.add_argument("--load-generator", nargs=4, metavar=("URL", "FILE", "SECONDS", "CONNECTIONS"),
                        help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.load_generator:
        url, file, seconds, connections = args.load_generator
        print(json.dumps(asyncio.run(python_load(url, Path(file), float(seconds), int(connections)))))
        return
    duration = args.duration or (6.0 if args.quick else 20.0)
    pg = args.pg or os.environ.get("SLAFLOW_TEST_PG_URL")
    wrk = None if args.python_load else shutil.which("wrk")
    generator = "wrk" if wrk else "python-httpx (wrk not found: apt-get install -y wrk)"
    print(f"load generator: {generator}; {args.connections} connections, {duration:.0f} s per database")
    report: dict[str, Any] = {"bench": "webhooks", "load_generator": generator.split(" ")[0],
                              "processor": args.processor, "load_average": os.getloadavg()[0]}
    runs = [("sqlite", None)] + ([("pg", pg)] if pg else [])
    for key, value in floors(count=300 if args.quick else 1000).items():
        report[f"sqlite_floor_{key}"] = value
    print(f"floors: {json.dumps({k: v for k, v in report.items() if 'floor' in k})}")
    for name, server_url in runs:
        with database(name, server_url) as url:
            figures = run(url, duration=duration, connections=args.connections, wrk=wrk, drain=not args.quick,
                          processor=args.processor)
        for key, value in figures.items():
            report[f"{name}_{key}"] = value
        print(f"{name}: {json.dumps(figures)}")
    report["open_lag_p50_ms"] = report.get("sqlite_open_lag_p50_ms")
    report["open_lag_p99_ms"] = report.get("sqlite_open_lag_p99_ms")
    report["processing_floor_ratio"] = round(
        report["sqlite_floor_open_case_batch_rps"] / max(report["sqlite_processing_rps"], 0.1), 2)
    if "sqlite_http_floor_rps" in report:
        report["http_floor_ratio"] = round(report["sqlite_http_floor_rps"] / max(report["sqlite_rps"], 0.1), 2)
    if "sqlite_processor_cpu_ms_per_case" in report:  # CPU per unit: holds on a busy machine
        report["processor_cpu_floor_ratio"] = round(
            report["sqlite_processor_cpu_ms_per_case"] / report["sqlite_floor_open_case_batch_cpu_ms_per_case"], 2)
    if "sqlite_http_floor_cpu_ms_per_request" in report:
        report["http_cpu_floor_ratio"] = round(
            report["sqlite_http_cpu_ms_per_request"] / max(report["sqlite_http_floor_cpu_ms_per_request"], 0.001), 2)
    report.update(cores_needed(report))
    report["target_rps"] = TARGET_RPS
    report["target_p99_ms"] = TARGET_P99_MS
    report["target_processing_rps"] = TARGET_PROCESSING_RPS
    report["ok"] = bool(report["sqlite_rps"] >= TARGET_RPS and report["sqlite_p99_ms"] < TARGET_P99_MS
                        and report["sqlite_processing_rps"] >= TARGET_PROCESSING_RPS
                        and report["sqlite_errors"] == 0)
    print(json.dumps(report))


def cores_needed(report: dict[str, Any]) -> dict[str, Any]:
    """The cores the target would keep busy, from this run's CPU per unit (holds on a busy machine):
    TARGET_RPS stored requests (the server's CPU per stored webhook) plus TARGET_PROCESSING_RPS
    cases (the processor's CPU per case), beside the same at the floors (a ``/health/live``
    request, a batched ``open_case``) and the cores this machine has. Only with the processor in
    its own process, where the two CPU figures are apart; the load generator is not counted."""
    if "sqlite_processor_cpu_ms_per_case" not in report:
        return {"cores_needed_for_target": None, "cores_available": os.cpu_count()}
    figures = {"cores_needed_for_target": round(
        (TARGET_RPS * report["sqlite_http_cpu_ms_per_request"]
         + TARGET_PROCESSING_RPS * report["sqlite_processor_cpu_ms_per_case"]) / 1000, 2)}
    if "sqlite_http_floor_cpu_ms_per_request" in report:
        figures["cores_needed_at_floors"] = round(
            (TARGET_RPS * report["sqlite_http_floor_cpu_ms_per_request"]
             + TARGET_PROCESSING_RPS * report["sqlite_floor_open_case_batch_cpu_ms_per_case"]) / 1000, 2)
    return {**figures, "cores_available": os.cpu_count()}


class database:
    """A fresh, migrated database: a SQLite file, or a throwaway database on a PostgreSQL server."""

    def __init__(self, name: str, server_url: str | None) -> None:
        self.name, self.server_url = name, server_url
        self.tmp = Path(tempfile.mkdtemp(prefix="slaflow-bench-"))
        self.pg_name = f"slaflow_bench_{uuid.uuid4().hex[:8]}"

    def __enter__(self) -> str:
        if self.server_url is None:
            url = f"sqlite:///{self.tmp / 'bench.db'}"
        else:
            admin = create_engine(normalise_url(self.server_url), isolation_level="AUTOCOMMIT")
            with admin.connect() as conn:
                conn.execute(text(f'CREATE DATABASE "{self.pg_name}"'))
            admin.dispose()
            url = normalise_url(self.server_url).rsplit("/", 1)[0] + f"/{self.pg_name}"
        migrate(url)
        return url

    def __exit__(self, *exc: object) -> None:
        if self.server_url is not None:
            admin = create_engine(normalise_url(self.server_url), isolation_level="AUTOCOMMIT")
            with admin.connect() as conn:
                conn.execute(text(f'DROP DATABASE IF EXISTS "{self.pg_name}" WITH (FORCE)'))
            admin.dispose()
        shutil.rmtree(self.tmp, ignore_errors=True)


def floors(count: int) -> dict[str, float]:
    """Rows per second of what the webhook path cannot beat, on a fresh SQLite file: plain inserts
    of the inbox rows (``insert_rps``) and the engine's ``open_case`` alone (``open_case_rps``)."""
    with database("sqlite", None) as url:
        engine = make_engine(url)
        stamp = str(int(time.time()))
        rows = [(f"floor-{n}", order(f"floor-{n}").decode()) for n in range(count)]
        raw = engine.raw_connection()
        try:
            cursor = raw.cursor()
            started = time.perf_counter()
            for key, body in rows:
                cursor.execute("BEGIN IMMEDIATE")
                cursor.execute(
                    "INSERT INTO inbox_events (source, idempotency_key, received_at, content_type, headers, body,"
                    " status, attempts, account) VALUES ('generic', ?, ?, 'application/json', '{}', ?, ?, 0,"
                    " 'default')", (key, stamp, body, InboxStatus.RECEIVED.value))
                cursor.execute("COMMIT")
            insert_rps = count / (time.perf_counter() - started)
        finally:
            raw.close()
        company = load_company(EXAMPLE_COMPANY)
        sessions = session_factory(engine)
        generic = crm_config(company).sources.generic
        assert generic is not None, "the example company configures the generic source"
        actor = integration_actor("generic", generic)
        data = {"customer": "ООО Ромашка", "deliver_by": "2026-11-18", "reason": "bench"}
        clock = SystemClock()
        cpu_ms_per_case = 0.0

        def open_cases(prefix: str, per_transaction: int) -> float:
            nonlocal cpu_ms_per_case
            started, cpu = time.perf_counter(), time.process_time()
            for first in range(0, count, per_transaction):
                with sessions.begin() as session:
                    for n in range(first, min(count, first + per_transaction)):
                        open_case(session, company, case_type="rush_delivery",
                                  data={**data, "order": f"{prefix}-{n}"}, actor=actor, now=clock.now(),
                                  source="crm:generic", external_source="generic",
                                  external_key=f"order:{prefix}-{n}:rush_delivery")
            cpu_ms_per_case = (time.process_time() - cpu) * 1000 / count
            return count / (time.perf_counter() - started)

        open_case_rps = open_cases("floor", 1)
        open_case_batch_rps = open_cases("batch", MAX_PROCESS_BATCH)
        engine.dispose()
    return {"insert_rps": round(insert_rps, 1), "open_case_rps": round(open_case_rps, 1),
            "open_case_batch_rps": round(open_case_batch_rps, 1),
            "open_case_batch_cpu_ms_per_case": round(cpu_ms_per_case, 3)}


def run(url: str, *, duration: float, connections: int, wrk: str | None, drain: bool,
        processor: str = "process") -> dict[str, Any]:
    port = free_port()
    base = f"http://127.0.0.1:{port}"
    env = {**os.environ, **SAMPLE_ENV, "SLAFLOW_DATABASE_URL": url, "SLAFLOW_CONFIG": str(EXAMPLE_COMPANY),
           "PYTHONPATH": str(ROOT), PROCESSOR_ENV: processor}
    server = subprocess.Popen(
        [sys.executable, "-m", "uvicorn", "api.app:app_from_env", "--factory", "--host", "127.0.0.1",
         "--port", str(port), "--workers", "1", "--no-access-log", "--log-level", "warning"],
        cwd=ROOT, env=env,
    )
    children = [server]
    if processor == "process":  # what `slaflow serve` starts beside the HTTP app
        children.append(subprocess.Popen([sys.executable, "-m", "slaflow.commands.crm", "work"], cwd=ROOT, env=env,
                                         stderr=subprocess.DEVNULL))
    engine = make_engine(url)
    try:
        wait_healthy(base)
        figures: dict[str, Any] = {}
        if wrk:  # the same server answering a route with no work: what HTTP alone costs here, now
            cpu_before_floor = cpu_seconds(server.pid)
            trivial = wrk_load(wrk, base, None, min(duration, 3.0), connections, path="/health/live")
            figures.update(http_floor_rps=round(trivial["requests"] / trivial["seconds"], 1),
                           http_floor_p99_ms=trivial["p99_ms"],
                           http_floor_cpu_ms_per_request=round(
                               (cpu_seconds(server.pid) - cpu_before_floor) * 1000 / max(trivial["requests"], 1), 3))
        requests_file = Path(tempfile.mkstemp(suffix=".tsv")[1])
        write_requests(requests_file, count=int(duration * 6000), prefix="load")
        started_rows = count_rows(engine)
        cpu_before = [cpu_seconds(child.pid) for child in children]
        ticks_before = machine_ticks()
        started = time.monotonic()
        load = wrk_load(wrk, base, requests_file, duration, connections) if wrk else subprocess_python_load(
            base, requests_file, duration, connections)
        elapsed = time.monotonic() - started
        cpu = [cpu_seconds(child.pid) - before for child, before in zip(children, cpu_before, strict=True)]
        machine = shares(ticks_before, machine_ticks())
        stored = count_rows(engine) - started_rows
        opened_during = count_cases(engine)
        requests_file.unlink()
        figures |= {
            "rps": round(stored / load.get("seconds", elapsed), 1),
            "p50_ms": load["p50_ms"], "p99_ms": load["p99_ms"], "errors": load["errors"],
            "requests": load["requests"], "stored": stored,
            "processing_rps": round(opened_during / elapsed, 1),
            "backlog_after_load": stored - opened_during,
            # CPU time per unit of work: what holds on a busy machine, where rates do not
            "http_cpu_ms_per_request": round(cpu[0] * 1000 / max(stored, 1), 3),
            "http_cpu_share": round(cpu[0] / elapsed, 2),
            **machine,  # the whole machine's busy share, and the host's (stolen: a slow phase)
        }
        if len(cpu) > 1:
            figures["processor_cpu_ms_per_case"] = round(cpu[1] * 1000 / max(opened_during, 1), 3)
            figures["processor_cpu_share"] = round(cpu[1] / elapsed, 2)
        if drain:  # the backlog left, processed with no request arriving
            figures["drain_s"] = wait_processed(engine, stored, timeout=600)
            figures["drain_rps"] = round((count_cases(engine) - opened_during) / max(figures["drain_s"], 0.1), 1)
        figures.update(lag_phase(base, engine))
        return figures
    finally:
        for child in children:
            child.terminate()
        for child in children:
            child.wait(20)
        engine.dispose()


def write_requests(path: Path, *, count: int, prefix: str) -> None:
    stamp = str(int(time.time()))
    run_id = uuid.uuid4().hex[:6]
    with path.open("w", encoding="utf-8") as out:
        for n in range(count):
            body = order(f"{prefix}-{run_id}-{n}")
            out.write(f"{stamp}\t{sign(SECRET, stamp, body)}\t{body.decode()}\n")


def order(order_id: str) -> bytes:
    return json.dumps({"entity": "order", "entity_id": order_id, "event": "stage_changed", "stage": "rush_requested",
                       "fields": {"customer": "ООО Ромашка", "deliver_by": "2026-11-18", "reason": "bench"}},
                      ensure_ascii=False, separators=(",", ":")).encode()


def wrk_load(wrk: str, base: str, requests_file: Path | None, duration: float, connections: int,
             path: str = PATH) -> dict[str, Any]:
    """wrk against ``path``: POSTs of the pre-signed requests in ``requests_file``, or plain GETs."""
    command = [wrk, "-t1", f"-c{connections}", f"-d{duration:.0f}s", "--latency", f"{base}{path}"]
    script = None
    if requests_file is not None:
        script = requests_file.with_suffix(".lua")
        script.write_text(LUA % {"path": path}, encoding="utf-8")
        command[-1:-1] = ["-s", str(script)]
        command += ["--", str(requests_file)]
    out = subprocess.run(command, capture_output=True, text=True, check=True).stdout
    if script is not None:
        script.unlink()
    # wrk pads some values with a trailing space ("99%    1.20s "): the pattern allows it
    percentiles = dict(re.findall(r"^\s+(50|99)%\s+([\d.]+[a-z]+)\s*$", out, re.MULTILINE))
    requests = int(re.search(r"(\d+) requests in", out).group(1))  # type: ignore[union-attr]
    seconds = float(re.search(r"requests in ([\d.]+)s", out).group(1))  # type: ignore[union-attr]
    errors = re.search(r"Non-2xx or 3xx responses: (\d+)", out)
    socket_errors = re.search(r"Socket errors: .*", out)
    return {"requests": requests, "seconds": seconds, "p50_ms": to_ms(percentiles["50"]),
            "p99_ms": to_ms(percentiles["99"]), "errors": int(errors.group(1)) if errors else 0,
            "socket_errors": socket_errors.group(0) if socket_errors else None}


def to_ms(value: str) -> float:
    number, unit = re.match(r"([\d.]+)(\w+)", value).groups()  # type: ignore[union-attr]
    return round(float(number) * {"us": 0.001, "ms": 1.0, "s": 1000.0, "m": 60000.0}[unit], 2)


def subprocess_python_load(base: str, requests_file: Path, duration: float, connections: int) -> dict[str, Any]:
    out = subprocess.run(
        [sys.executable, __file__, "--load-generator", base, str(requests_file), str(duration), str(connections)],
        capture_output=True, text=True, check=True, cwd=ROOT,
    ).stdout
    return dict(json.loads(out.strip().splitlines()[-1]))


async def python_load(base: str, requests_file: Path, duration: float, connections: int) -> dict[str, Any]:
    lines = requests_file.read_text(encoding="utf-8").splitlines()
    latencies: list[float] = []
    errors = 0
    cursor = 0
    deadline = time.monotonic() + duration
    limits = httpx.Limits(max_connections=connections, max_keepalive_connections=connections)
    async with httpx.AsyncClient(base_url=base, limits=limits, timeout=30) as client:

        async def worker() -> None:
            nonlocal cursor, errors
            while time.monotonic() < deadline and cursor < len(lines):
                stamp, signature, body = lines[cursor].split("\t", 2)
                cursor += 1
                started = time.perf_counter()
                response = await client.post(PATH, content=body.encode(), headers={
                    "Content-Type": "application/json", "X-Slaflow-Timestamp": stamp,
                    "X-Slaflow-Signature": signature})
                latencies.append((time.perf_counter() - started) * 1000)
                errors += response.status_code >= 300

        started = time.monotonic()
        await asyncio.gather(*(worker() for _ in range(connections)))
        seconds = time.monotonic() - started
    quantiles = statistics.quantiles(latencies, n=100)
    return {"requests": len(latencies), "seconds": seconds, "p50_ms": round(quantiles[49], 2),
            "p99_ms": round(quantiles[98], 2), "errors": errors}


def lag_phase(base: str, engine: Any, rate: float = 50.0, seconds: float = 3.0) -> dict[str, Any]:
    """Steady load the processor keeps up with: time from sending a webhook to its case being open."""
    wait_processed(engine, None, timeout=600)
    sent: dict[str, float] = {}
    run_id = uuid.uuid4().hex[:6]
    with httpx.Client(base_url=base, timeout=30) as client:
        start = time.monotonic()
        for n in range(int(rate * seconds)):
            time.sleep(max(0.0, start + n / rate - time.monotonic()))
            order_id = f"lag-{run_id}-{n}"
            body = order(order_id)
            stamp = str(int(time.time()))
            sent[f"order:{order_id}:rush_delivery"] = time.time()
            response = client.post(PATH, content=body, headers={
                "Content-Type": "application/json", "X-Slaflow-Timestamp": stamp,
                "X-Slaflow-Signature": sign(SECRET, stamp, body)})
            response.raise_for_status()
    wait_processed(engine, None, timeout=120)
    with engine.connect() as conn:
        rows = conn.execute(select(Case.external_key, Case.opened_at).where(Case.external_key.in_(list(sent))))
        lags = sorted((opened_at.timestamp() - sent[key]) * 1000 for key, opened_at in rows)
    if len(lags) < 2:
        return {"open_lag_p50_ms": None, "open_lag_p99_ms": None}
    quantiles = statistics.quantiles(lags, n=100)
    return {"open_lag_p50_ms": round(quantiles[49], 1), "open_lag_p99_ms": round(quantiles[98], 1),
            "lag_cases": len(lags)}


def wait_processed(engine: Any, expected: int | None, timeout: float) -> float:
    """Seconds until no inbox row is left ``received``."""
    started = time.monotonic()
    while time.monotonic() - started < timeout:
        with engine.connect() as conn:
            waiting = conn.execute(
                select(func.count()).select_from(InboxEvent).where(InboxEvent.status == InboxStatus.RECEIVED)
            ).scalar_one()
        if waiting == 0:
            return round(time.monotonic() - started, 1)
        time.sleep(0.1)
    raise TimeoutError(f"inbox rows still unprocessed after {timeout:.0f} s")


def count_rows(engine: Any) -> int:
    with engine.connect() as conn:
        return int(conn.execute(select(func.count()).select_from(InboxEvent)).scalar_one())


def count_cases(engine: Any) -> int:
    with engine.connect() as conn:
        return int(conn.execute(select(func.count()).select_from(Case)).scalar_one())


def wait_healthy(base: str, timeout: float = 120.0) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        try:
            if httpx.get(f"{base}/health", timeout=1).status_code == 200:
                return
        except httpx.HTTPError:
            pass
        time.sleep(0.1)
    raise RuntimeError(f"the server at {base} did not become healthy in {timeout:.0f} s")


def free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return int(probe.getsockname()[1])


if __name__ == "__main__":
    main()
