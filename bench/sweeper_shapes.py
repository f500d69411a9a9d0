"""Which shape for the sweeper on Prefect: a task worker that runs one background task per tick,
or one long-lived flow run that loops (what `flows.sweeper` does)?

    .venv/bin/python bench/sweeper_shapes.py --quick   # 15 ticks; about 2 minutes

Against a Prefect server (SQLite, a temporary PREFECT_HOME) and an empty slaflow SQLite database:

- task worker: ``prefect.task_worker.serve(sweep_tick)`` in its own process; the bench calls
  ``sweep_tick.delay()`` once per tick (as a scheduler would have to) and waits for the result.
  Per tick: CPU seconds of the server + the task worker + the submitting process, and the
  submit -> result latency; the task worker's RSS.
- looping flow run: `flows.sweeper.sweep_timers` with ``lifetime_s`` in its own process (as a
  worker starts it), sweeping every second; CPU per tick of that process + the server, its RSS.

Both do the same work per tick (one `engine.timers.sweep` on nothing due). The last line
printed is one JSON object.
"""

from __future__ import annotations

import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path[0] = str(ROOT)

import argparse  # noqa: E402
import json  # noqa: E402
import os  # noqa: E402
import statistics  # noqa: E402
import subprocess  # noqa: E402
import tempfile  # noqa: E402
import time  # noqa: E402

from bench.live_procs import _stat, free_port, kill_tree, wait_healthy  # noqa: E402
from flows.worker import descendants  # noqa: E402

TICK = os.sysconf("SC_CLK_TCK")

TASK_WORKER = """
from prefect import task
from prefect.task_worker import serve

@task(name="sweep-tick")
def sweep_tick() -> int:
    from flows._support import open_runtime
    from core.clock import SystemClock
    from engine.timers import sweep
    with open_runtime() as runtime:
        return sweep(runtime.sessions, runtime.company, clock=SystemClock(), owner="task-worker").claimed

if __name__ == "__main__":
    serve(sweep_tick)
"""

SUBMIT = """
import sys, time, json
sys.path.insert(0, sys.argv[2])
from task_worker_module import sweep_tick
ticks = int(sys.argv[1])
latencies = []
for _ in range(ticks):
    started = time.monotonic()
    future = sweep_tick.delay()
    future.result(timeout=120)
    latencies.append(time.monotonic() - started)
    time.sleep(max(0.0, 1.0 - (time.monotonic() - started)))
print(json.dumps(latencies))
"""


def cpu(pids: list[int]) -> tuple[float, float]:
    """CPU seconds of the processes and their descendants; private RSS (MB) of the last one's."""
    ticks, private = 0, 0
    for root in pids:
        for pid in [root, *descendants(root)]:
            t, p = _stat(pid)
            ticks += t or 0
            private = p if root == pids[-1] else private
    return ticks / TICK, private / 2**20


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--quick", action="store_true")
    ticks = 15 if parser.parse_args().quick else 60
    with tempfile.TemporaryDirectory(prefix="slaflow-shapes-") as tmp:
        work = Path(tmp)
        port = free_port()
        api = f"http://127.0.0.1:{port}/api"
        env = {**os.environ, "PREFECT_HOME": str(work / "home"), "PREFECT_API_URL": api, "DO_NOT_TRACK": "1",
               "PREFECT_SERVER_ANALYTICS_ENABLED": "false", "PREFECT_SERVER_LOGGING_LEVEL": "WARNING",
               "SLAFLOW_DATABASE_URL": f"sqlite:///{work / 'slaflow.db'}", "PYTHONPATH": str(ROOT)}
        env.pop("SLAFLOW_CONFIG", None)
        subprocess.run([sys.executable, "-m", "slaflow.cli", "init"], env=env, check=True, capture_output=True)
        (work / "task_worker_module.py").write_text(TASK_WORKER)
        server = subprocess.Popen([sys.executable, "-m", "prefect", "server", "start", "--port", str(port),
                                   "--analytics-off"], env=env, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL,
                                  start_new_session=True)
        try:
            wait_healthy(api, 120)
            figures = {**task_worker(work, env, server.pid, ticks), **looping_run(env, server.pid, ticks)}
        finally:
            kill_tree(server.pid)
            server.wait()
    figures["per_tick_cpu_ratio"] = round(figures["task_cpu_s_per_tick"] / max(figures["loop_cpu_s_per_tick"], 1e-3), 1)
    figures["load_avg"] = [round(x, 2) for x in os.getloadavg()]
    print(json.dumps(figures))


def task_worker(work: Path, env: dict[str, str], server: int, ticks: int) -> dict[str, float]:
    worker = subprocess.Popen([sys.executable, str(work / "task_worker_module.py")], env=env, cwd=work,
                              stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL, start_new_session=True)
    try:
        time.sleep(15)  # imports, websocket subscription
        before, _ = cpu([server, worker.pid])
        submit = subprocess.run([sys.executable, "-c", SUBMIT, str(ticks), str(work)], env=env, capture_output=True,
                                text=True, check=True)
        after, rss = cpu([server, worker.pid])
        latencies = json.loads(submit.stdout.strip().splitlines()[-1])
    finally:
        kill_tree(worker.pid)
        worker.wait()
    return {
        "task_ticks": ticks,
        "task_cpu_s_per_tick": round((after - before) / ticks, 3),  # server + task worker (submitter excluded)
        "task_latency_p50_s": round(statistics.median(latencies), 3),
        "task_worker_rss_mb": round(rss),
    }


def looping_run(env: dict[str, str], server: int, ticks: int) -> dict[str, float]:
    code = ("from flows.sweeper import sweep_timers; "
            f"sweep_timers(interval_s=1.0, lifetime_s={ticks + 20})")
    run = subprocess.Popen([sys.executable, "-c", code], env=env, stdout=subprocess.DEVNULL,
                           stderr=subprocess.DEVNULL, start_new_session=True)
    try:
        time.sleep(15)  # imports, the run's start
        before, _ = cpu([server, run.pid])
        time.sleep(ticks)
        after, rss = cpu([server, run.pid])
    finally:
        kill_tree(run.pid)
        run.wait()
    return {"loop_cpu_s_per_tick": round((after - before) / ticks, 3), "loop_run_rss_mb": round(rss)}


if __name__ == "__main__":
    main()
