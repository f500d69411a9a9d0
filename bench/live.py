"""Live benchmark: slaflow on Prefect as in production, end to end.

    .venv/bin/python bench/live.py --quick   # 2,000-timer burst, 45 s trickle; under 5 minutes
    .venv/bin/python bench/live.py           # 10,000-timer burst, 5 min trickle, 5 min after the kill

It starts what `docs/operations.md` describes for two machines, on this one: a Prefect server on
PostgreSQL (its own database), `slaflow deploy` (the process work pool, the deployments, the
automations) and two `slaflow worker` processes; slaflow's database is a fresh PostgreSQL
database (``--pg``, default SLAFLOW_TEST_PG_URL). Open cases are bulk-loaded (bench/timers.py's
loader) with every timer hours ahead; the bench then makes some of their step warnings due:

- idle: nothing due for a while, once every safety net's first run has come and gone (one
  sweeper run; the nets then start every 15-60 minutes; ``--quick`` measures it before their
  first runs, which then fall into the rest of the run: ``idle_before_nets``); CPU of every
  process (server, workers, flow runs, and the PostgreSQL backends of both databases), percent
  of one core; RSS summed;
- burst: N warnings due at once; ``burst_10k_s`` = from their due time to the last one seen fired
  (polled every 0.25 s); when N is smaller (``--quick``: ``burst_n``, ``burst_s`` say what ran) it
  is extrapolated: the wait for the first sweep once, plus first -> last fired times 10,000 / N;
- trickle: one warning due every second; lateness = due -> seen fired (p50, p99);
- kill: a batch due at once; once the sweeper has claimed some, the worker running it and its
  flow runs get ``kill -9`` (a machine that dies). ``recovered_after_kill_s`` = kill -> the last of
  the timers it held fired; ``runs_left_running`` = flow runs of the dead worker still RUNNING at
  the end (5 minutes after the kill; ``--quick`` checks earlier and says when);
- Late flow runs are counted every 5 s throughout (``late_runs_max``, ``late_runs_end``).

The last line printed is one JSON object with the figures and the targets.
"""

from __future__ import annotations

import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path[0] = str(ROOT)  # bench/calendar.py would shadow the stdlib's

import argparse  # noqa: E402
import json  # noqa: E402
import os  # noqa: E402
import signal  # noqa: E402
import subprocess  # noqa: E402
import tempfile  # noqa: E402
import threading  # noqa: E402
import time  # noqa: E402
import uuid  # noqa: E402
from dataclasses import dataclass  # noqa: E402
from datetime import UTC, datetime, timedelta  # noqa: E402
from typing import Any  # noqa: E402

import httpx  # noqa: E402
import psycopg  # noqa: E402

from bench.live_procs import (  # noqa: E402
    Child,
    Meter,
    flow_runs,
    free_port,
    kill_tree,
    late_runs,
    start,
    wait_healthy,
)
from bench.timers import Spec, _libpq, build_template, load_postgres  # noqa: E402
from flows.deploy import Plan, anchor_offsets  # noqa: E402
from flows.server import LEAN_POSTGRES, LEAN_SERVER  # noqa: E402
from flows.worker import descendants  # noqa: E402
from runtime.settings import EXAMPLE_COMPANY  # noqa: E402

PYTHON = sys.executable
SLAFLOW = str(Path(PYTHON).parent / "slaflow")
SWEEP_INTERVAL = 10.0
SWEEPER_RESTART = 60.0
LEASE_S = 120.0
NET_PREFETCH_S = 15.0
"""A worker starts a run's process up to 10 s before it is due (its prefetch), and a few more."""
BENCH_APP = "slaflow-bench"
"""The bench's own connections: not part of the set-up, not metered."""


def log(message: str) -> None:
    print(f"[{time.strftime('%H:%M:%S')}] {message}", file=sys.stderr, flush=True)


# --------------------------------------------------------------------------- the database side


def create_database(admin: str, name: str) -> str:
    with psycopg.connect(admin, autocommit=True) as conn:
        conn.execute(f'CREATE DATABASE "{name}"')
    return admin.rsplit("/", 1)[0] + f"/{name}"


def drop_database(admin: str, name: str) -> None:
    with psycopg.connect(admin, autocommit=True) as conn:
        conn.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')


def load_cases(url: str, workdir: Path, count: int) -> list[int]:
    """``count`` open return cases opened half an hour ago (every timer hours ahead); their step
    warning timer ids."""
    from storage.db import migrate

    migrate(url)
    template = build_template(workdir)
    opened = datetime.now(UTC) - timedelta(minutes=30)
    load_postgres(url, template, [Spec(count, lambda k: opened + timedelta(seconds=k % 600))])
    with psycopg.connect(url, application_name=BENCH_APP) as conn:
        rows = conn.execute("SELECT id FROM timers WHERE kind = 'warning' AND state <> '*' ORDER BY id").fetchall()
    return [int(row[0]) for row in rows]


def make_due(url: str, ids: list[int], due: list[datetime]) -> None:
    with psycopg.connect(url, application_name=BENCH_APP) as conn:
        with conn.cursor() as cur:
            cur.executemany("UPDATE timers SET due_at = %s WHERE id = %s", list(zip(due, ids, strict=True)))
        conn.commit()


def fired_among(url: str, ids: list[int]) -> set[int]:
    with psycopg.connect(url, application_name=BENCH_APP) as conn:
        rows = conn.execute("SELECT id FROM timers WHERE id = ANY(%s) AND status = 'fired'", (ids,)).fetchall()
    return {int(row[0]) for row in rows}


def watch_fired(url: str, ids: list[int], timeout: float, meter: Meter) -> dict[int, float]:
    """Wall time (epoch) at which each timer was first seen fired, polling every 0.25 s."""
    seen: dict[int, float] = {}
    deadline = time.monotonic() + timeout
    while len(seen) < len(ids) and time.monotonic() < deadline:
        now = time.time()
        for timer_id in fired_among(url, [i for i in ids if i not in seen]):
            seen[timer_id] = now
        time.sleep(0.25)
    return seen


def leased(url: str, ids: list[int]) -> dict[str, list[int]]:
    with psycopg.connect(url, application_name=BENCH_APP) as conn:
        rows = conn.execute(
            "SELECT lease_owner, id FROM timers WHERE id = ANY(%s) AND status = 'pending' AND lease_owner IS NOT NULL",
            (ids,),
        ).fetchall()
    owners: dict[str, list[int]] = {}
    for owner, timer_id in rows:
        owners.setdefault(str(owner), []).append(int(timer_id))
    return owners


# --------------------------------------------------------------------------- the run


@dataclass
class Sizes:
    burst: int
    trickle_s: int
    kill_batch: int
    idle_s: int
    after_kill_s: int
    lease_s: float
    nets_first: bool
    """Measure idle before the safety nets' first runs when there is time (`--quick`)."""


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--quick", action="store_true", help="a smaller run, under 5 minutes")
    parser.add_argument("--pg", default=os.environ.get("SLAFLOW_TEST_PG_URL", "postgresql://postgres@127.0.0.1:5432/test"))
    parser.add_argument("--trace", type=Path, help="write a JSON line a second: RSS and PSS by role")
    args = parser.parse_args()
    sizes = (Sizes(2_000, 30, 1_500, 15, 0, LEASE_S, nets_first=True) if args.quick
             else Sizes(10_000, 300, 3_000, 120, 300, LEASE_S, nets_first=False))
    admin = _libpq(args.pg)
    tag = uuid.uuid4().hex[:8]
    names = [f"slaflow_live_{tag}", f"slaflow_live_{tag}_prefect"]
    started_at = time.monotonic()
    load_before = os.getloadavg()
    signal.signal(signal.SIGTERM, _exit_on_term)  # clean up (children, databases) when stopped
    with tempfile.TemporaryDirectory(prefix="slaflow-live-") as tmp:
        workdir = Path(tmp)
        children: list[Child] = []
        try:
            url = create_database(admin, names[0])
            prefect_db = create_database(admin, names[1])
            figures = run(sizes, url, prefect_db, workdir, children, admin, names, args.trace)
        finally:
            stop_all(children)
            for name in names:
                drop_database(admin, name)
    figures["load_avg_before"] = [round(x, 2) for x in load_before]
    figures["load_avg_after"] = [round(x, 2) for x in os.getloadavg()]
    figures["bench_s"] = round(time.monotonic() - started_at, 1)
    figures["quick"] = args.quick
    print(json.dumps(figures))


def stop_all(children: list[Child]) -> None:
    """SIGTERM to the workers, then the server (the workers still talk to it); each waited for
    up to 60 s together, then killed."""
    workers = [c for c in children if c.name != "server"]
    for group in (workers, [c for c in children if c.name == "server"]):
        for child in group:
            if child.process.poll() is None:
                kill_tree(child.process.pid, signal.SIGTERM)
        deadline = time.monotonic() + 60
        for child in group:
            try:
                child.process.wait(timeout=max(0.1, deadline - time.monotonic()))
            except subprocess.TimeoutExpired:
                kill_tree(child.process.pid)


def _exit_on_term(signum: int, _frame: Any) -> None:
    raise SystemExit(128 + signum)


def run(sizes: Sizes, url: str, prefect_db: str, workdir: Path, children: list[Child], admin: str,
        names: list[str], trace: Path | None = None) -> dict[str, Any]:
    port = free_port()
    api = f"http://127.0.0.1:{port}/api"
    env = {
        **os.environ, "DO_NOT_TRACK": "1", "PREFECT_SERVER_ANALYTICS_ENABLED": "false",
        "PREFECT_HOME": str(workdir / "prefect"), "PREFECT_API_URL": api,
        "PREFECT_SERVER_DATABASE_CONNECTION_URL": prefect_db.replace("postgresql://", "postgresql+asyncpg://"),
        "PREFECT_SERVER_LOGGING_LEVEL": "WARNING", "SLAFLOW_DATABASE_URL": url,
    }
    env["SLAFLOW_CONFIG"] = str(EXAMPLE_COMPANY)  # the company bench/timers.py loads its cases with
    log("starting the Prefect server on PostgreSQL")
    server_env = {**env, **LEAN_SERVER, **LEAN_POSTGRES}  # as `slaflow up` starts it beside PostgreSQL
    children.append(start("server", [PYTHON, "-m", "prefect", "server", "start", "--port", str(port),
                                     "--analytics-off"], server_env, workdir))
    total = sizes.burst + sizes.trickle_s + sizes.kill_batch
    log(f"loading {total} open cases while it starts")
    warnings = load_cases(url, workdir, total)
    burst, trickle, batch = (warnings[: sizes.burst], warnings[sizes.burst : sizes.burst + sizes.trickle_s],
                             warnings[sizes.burst + sizes.trickle_s :])
    wait_healthy(api, 120)
    deploy = [SLAFLOW, "deploy", "--no-reports", "--sweep-interval", str(SWEEP_INTERVAL),
              "--sweeper-restart", str(SWEEPER_RESTART), "--lease", str(sizes.lease_s)]
    deployed_at = time.monotonic()
    done = subprocess.run(deploy, env=env, capture_output=True, text=True, check=False)
    if done.returncode:
        raise SystemExit(f"slaflow deploy failed: {done.stderr}")
    for name in ("worker-1", "worker-2"):
        children.append(start(name, [SLAFLOW, "worker"], env, workdir))
    meter = Meter([c.process.pid for c in children], names, admin, api, trace=trace)
    threading.Thread(target=meter.run, daemon=True).start()
    threading.Thread(target=meter.count_late, daemon=True).start()
    log("waiting for a sweeper run")
    _wait_for(lambda: any(r["name"] for r in flow_runs(api, "RUNNING")), 120)
    time.sleep(5)
    if failed_runs := flow_runs(api, "FAILED") + flow_runs(api, "CRASHED"):
        raise SystemExit(f"{len(failed_runs)} flow runs failed or crashed at the start; see the workers' logs")
    # Idle is the steady state: one sweeper run. Each safety net first starts `offset` s after the
    # deploy (flows/stagger.py; its process is started ~10 s early by the worker's prefetch), then
    # every 15-60 minutes. The full run waits until each has come and gone (the deploy's one-time
    # cost) and measures idle after; `--quick` measures idle before the first one comes (if the
    # sweeper settled in time) and lets the nets' first runs fall into the burst, the trickle and
    # the kill, as they would on a machine deployed a few minutes earlier.
    plan = Plan(sweep_interval=SWEEP_INTERVAL, sweeper_restart=SWEEPER_RESTART, lease=sizes.lease_s)
    offsets = anchor_offsets(plan)
    first_net = deployed_at + min(v for k, v in offsets.items() if k != "sweep-timers") - NET_PREFETCH_S

    def settled() -> bool:
        return meter.flow_run_processes == 1 and len(flow_runs(api, "RUNNING") + flow_runs(api, "PENDING")) <= 1

    before_nets = sizes.nets_first and _wait_for(settled, first_net - sizes.idle_s - time.monotonic())
    if not before_nets:
        nets = len(offsets) - 1
        log(f"waiting for every safety net's first run ({nets}) to come and go")
        net_names = [name for name in offsets if name != "sweep-timers"]
        _wait_for(lambda: _nets_done(api, net_names) >= nets and settled(), 900)

    log(f"idle for {sizes.idle_s} s")
    meter.mark()
    idle_from = time.monotonic()
    time.sleep(sizes.idle_s)
    idle_cpu_pct = 100 * meter.counted / (time.monotonic() - idle_from)
    idle_rss_mb, idle_pss_mb = meter.rss_now_mb, meter.pss_now_mb

    log(f"burst of {sizes.burst}")
    due = datetime.now(UTC)
    make_due(url, burst, [due] * len(burst))
    seen = watch_fired(url, burst, 600, meter)
    burst_s = (max(seen.values()) - due.timestamp()) if len(seen) == len(burst) else None
    # Scaled to 10,000: the wait for the next sweep once, the firing in proportion.
    burst_10k = (min(seen.values()) - due.timestamp()) + (max(seen.values()) - min(seen.values())) * 10_000 / len(
        burst) if burst_s is not None else None

    log(f"trickle: one due every second for {sizes.trickle_s} s")
    first = datetime.now(UTC) + timedelta(seconds=2)
    dues = [first + timedelta(seconds=i) for i in range(len(trickle))]
    make_due(url, trickle, dues)
    seen_trickle = watch_fired(url, trickle, sizes.trickle_s + 120, meter)
    lateness = sorted(seen_trickle[t] - d.timestamp() for t, d in zip(trickle, dues, strict=True) if t in seen_trickle)

    killed = kill_sweeper(url, batch, children, api)
    recovered_s: float | None = None
    if killed is not None:
        kill_at, held, dead_runs = killed
        seen_kill = watch_fired(url, held, sizes.lease_s + 3 * SWEEPER_RESTART, meter)
        recovered_s = (max(seen_kill.values()) - kill_at) if len(seen_kill) == len(held) and held else None
        watch_fired(url, batch, 300, meter)
        remaining = sizes.after_kill_s - (time.time() - kill_at)
        log(f"waiting {max(0, remaining):.0f} s more for the dead worker's runs to be crashed")
        _wait_for(lambda: not _still_running(api, dead_runs), max(0.0, remaining))
        left_running = len(_still_running(api, dead_runs))
        checked_after = time.time() - kill_at
    else:
        held, dead_runs, left_running, checked_after = [], set(), None, 0.0
    everything = burst + trickle + batch
    fired = fired_among(url, everything)
    with psycopg.connect(url, application_name=BENCH_APP) as conn:
        failed = conn.execute("SELECT count(*) FROM timers WHERE status = 'failed'").fetchone()
    p = (lambda q: round(lateness[min(len(lateness) - 1, int(q * len(lateness)))], 2)) if lateness else (lambda q: None)
    return {
        "burst_10k_s": round(burst_10k, 1) if burst_10k is not None else None,
        "burst_n": len(burst),
        "burst_s": round(burst_s, 1) if burst_s is not None else None,
        "lateness_p50_s": p(0.5),
        "lateness_p99_s": p(0.99),
        "lateness_max_s": round(lateness[-1], 2) if lateness else None,
        "trickle_n": len(trickle),
        "sweep_interval_s": SWEEP_INTERVAL,
        "sweeper_restart_s": SWEEPER_RESTART,
        "lease_s": sizes.lease_s,
        "late_runs_max": meter.late_max,
        "late_runs_end": late_runs(api),
        "idle_cpu_pct": round(idle_cpu_pct, 1),
        "idle_before_nets": before_nets,
        "idle_rss_mb": round(idle_rss_mb),
        "total_rss_mb": round(meter.rss_peak_mb),
        "total_rss_mb_parts": meter.rss_peak_parts,
        "idle_pss_mb": round(idle_pss_mb),
        "total_pss_mb": round(meter.pss_peak_mb),
        "exactly_once": len(fired) == len(everything) and not (failed and failed[0]),
        "held_by_killed": len(held),
        "recovered_after_kill_s": round(recovered_s, 1) if recovered_s is not None else None,
        "runs_left_running": left_running,
        "runs_checked_after_kill_s": round(checked_after),
        "targets": {
            "burst_10k_s": "< 60", "lateness_p99_s": f"< {SWEEP_INTERVAL + 10:.0f}", "late_runs": "not accumulating",
            "idle_cpu_pct": "< 10", "total_rss_mb": "< 800",
            "recovered_after_kill_s": f"< {sizes.lease_s + SWEEP_INTERVAL:.0f}",
            "runs_left_running": "0 after 300 s",
        },
    }


def kill_sweeper(
    url: str, batch: list[int], children: list[Child], api: str
) -> tuple[float, list[int], set[str]] | None:
    """Make ``batch`` due, wait until a sweeper holds some, kill -9 its worker and the worker's
    flow runs; (kill time, timers the dead sweeper held, the dead worker's running flow runs)."""
    log(f"kill: {len(batch)} due at once, then kill -9 the worker whose sweeper holds them")
    make_due(url, batch, [datetime.now(UTC)] * len(batch))
    deadline = time.monotonic() + 120
    while time.monotonic() < deadline:
        for owner in leased(url, batch):
            pid = int(owner.split(":")[1])
            for child in children:
                if child.name.startswith("worker") and pid in descendants(child.process.pid):
                    running = {r["id"] for r in flow_runs(api, "RUNNING")}
                    pids = kill_tree(child.process.pid)
                    kill_at = time.time()
                    held = leased(url, batch).get(owner, [])
                    log(f"killed {child.name} (pids {pids}); its sweeper held {len(held)} timers")
                    dead = {r for r in running if _run_pid(api, r) in pids}
                    return kill_at, held, dead
        time.sleep(0.05)
    log("no sweeper claimed the batch within 120 s; no kill")
    return None


def _run_pid(api: str, run_id: str) -> int | None:
    run = httpx.get(f"{api}/flow_runs/{run_id}", timeout=10).json()
    pid = str(run.get("infrastructure_pid") or "")
    tail = pid.rsplit(":", 1)[-1]
    return int(tail) if tail.isdigit() else None


def _nets_done(api: str, nets: list[str]) -> int:
    """How many of the safety nets' deployments (by flow name) have a finished run (the deploy's
    schedules start the nets a few minutes after it, later when the deploy itself was slow).
    Other deployments' runs don't count: the seventh session's full run measured idle after two
    of the four nets because any finished run counted."""
    ids = {httpx.get(f"{api}/deployments/name/{name}/slaflow", timeout=30).json()["id"] for name in nets}
    done = flow_runs(api, "COMPLETED") + flow_runs(api, "FAILED") + flow_runs(api, "CRASHED")
    return len({r["deployment_id"] for r in done if r.get("deployment_id") in ids})


def _still_running(api: str, run_ids: set[str]) -> set[str]:
    return {r["id"] for r in flow_runs(api, "RUNNING")} & run_ids


def _wait_for(condition: Any, timeout: float) -> bool:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if condition():
            return True
        time.sleep(1)
    return bool(condition())


if __name__ == "__main__":
    main()
