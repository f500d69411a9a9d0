"""``slaflow deploy``, ``slaflow worker`` and ``slaflow up`` (registered by slaflow/cli.py; also
``python -m slaflow.commands.flows deploy|worker|up``).

``deploy`` creates the process work pool, the shared deployments and the automations on a
running Prefect server (PREFECT_API_URL); ``worker`` runs a Prefect worker on that pool, on as
many machines as you like. ``up`` is the one-machine set-up: a Prefect server (on PostgreSQL
when slaflow's database is), the deployments, the HTTP app when it is installed, and a worker,
each a child process; Ctrl-C stops them in reverse order.
"""

from __future__ import annotations

import importlib
import importlib.util
import os
import signal
import subprocess
import sys
import time
from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path
from types import FrameType
from typing import Annotated

import typer

from core.errors import SlaflowError
from flows._support import FLOW_RUN_ENV, OFFLINE_ENV, apply_offline_env, limit_malloc_arenas

DbOption = Annotated[str | None, typer.Option("--database-url", envvar="SLAFLOW_DATABASE_URL", help="SQLAlchemy URL")]
ConfigOption = Annotated[Path | None, typer.Option("--config", envvar="SLAFLOW_CONFIG", help="company YAML")]
SweepOption = Annotated[float, typer.Option(help="seconds between two sweeps of the running sweeper")]
RestartOption = Annotated[float, typer.Option(help="the sweeper's schedule: a dead sweeper is replaced within this")]
LifeOption = Annotated[float, typer.Option(help="seconds a sweeper run sweeps before the next one takes over")]
DispatchOption = Annotated[float, typer.Option(help="seconds between outbox safety-net runs")]
InboxOption = Annotated[float, typer.Option(help="seconds between inbox safety-net runs")]
PoolOption = Annotated[str, typer.Option(help="the Prefect work pool")]
ReportsOption = Annotated[
    bool, typer.Option(help="also deploy the company-wide scheduled work: weekly reports, index rebuild, lead letters")
]
LimitOption = Annotated[int, typer.Option(help="flow runs this worker runs at once")]
GraceOption = Annotated[float, typer.Option(help="seconds the flow runs get to stop on SIGTERM/SIGINT")]


def _export(database_url: str | None, config: Path | None) -> None:
    """Flow runs are child processes, started in a scratch folder, that read SLAFLOW_* themselves:
    pass the options on, with a relative SQLite path made absolute (SQLAlchemy is imported only
    then: a worker on PostgreSQL does not need it, ~11 MB)."""
    url = database_url or os.environ.get("SLAFLOW_DATABASE_URL")
    if url and url.startswith("sqlite"):
        from sqlalchemy.engine import make_url

        parsed = make_url(url)
        if parsed.database and parsed.database != ":memory:":
            url = parsed.set(database=str(Path(parsed.database).resolve())).render_as_string(hide_password=False)
    if url:
        os.environ["SLAFLOW_DATABASE_URL"] = url
    if config:
        os.environ["SLAFLOW_CONFIG"] = str(config.resolve())


def worker(
    pool: PoolOption = "slaflow",
    limit: LimitOption = 4,
    grace: GraceOption = 60,
    database_url: DbOption = None,
    config: ConfigOption = None,
) -> None:
    """Run a Prefect worker on slaflow's work pool (run `slaflow deploy` once first).

    Needs a Prefect server (PREFECT_API_URL); run as many workers as you like, on as many
    machines: each timer still fires once."""
    from flows.worker import check_api  # first, and light: an unreachable API is said at once

    check_api()
    limit_malloc_arenas()  # before Prefect starts its threads
    apply_offline_env()
    for name, value in FLOW_RUN_ENV.items():
        os.environ.setdefault(name, value)
    _export(database_url, config)
    from flows.worker import run_worker

    run_worker(pool, limit=limit, grace=grace)


def deploy(
    sweep_interval: SweepOption = 10,
    sweeper_restart: RestartOption = 60,
    sweeper_life: LifeOption = 600,
    dispatch_interval: DispatchOption = 3600,
    inbox_interval: InboxOption = 1800,
    lease: Annotated[float, typer.Option(help="seconds a sweeper's claim is kept (a dead one's wait that long)")] = 120,
    reports: ReportsOption = True,
    pool: PoolOption = "slaflow",
    config: ConfigOption = None,
) -> None:
    """Create (or update) the work pool, the deployments and the automations on the Prefect
    server (PREFECT_API_URL). Run it once per release; workers pick the changes up."""
    from flows.worker import check_api  # first, and light: an unreachable API is said at once

    url = check_api()
    from pydantic import ValidationError

    apply_offline_env()
    _export(None, config)
    from flows.deploy import Plan, anchor_offsets, deploy_all

    try:
        plan = Plan(
            sweep_interval=sweep_interval, sweeper_restart=sweeper_restart, sweeper_life=sweeper_life,
            dispatch_interval=dispatch_interval,
            inbox_interval=inbox_interval, lease=lease, with_reports=reports,
        )
    except ValidationError as exc:
        first = exc.errors()[0]
        where = ".".join(str(part) for part in first["loc"]) or "options"
        raise SlaflowError(f"{where.replace('_', '-')}: {first['msg']}") from None
    deployed = deploy_all(plan, pool=pool)
    typer.echo(f"work pool {pool!r} on {url}: {len(deployed)} deployments, each with a CANCEL_NEW concurrency limit")
    offsets = anchor_offsets(plan)
    for name in deployed:
        flow_name = name.split("/")[0]
        start = f" (starts {offsets[flow_name]:.0f} s into its interval)" if flow_name in offsets else ""
        typer.echo(f"  {name}{start}")
    typer.echo("automations: crash zombie flow runs (3 missed heartbeats); cancel runs late by > 2 intervals")


@dataclass
class _Child:
    name: str
    process: subprocess.Popen[bytes]


def up(
    data_dir: Annotated[
        Path, typer.Option(envvar="SLAFLOW_DATA_DIR", help="folder for the Prefect server's home and database")
    ] = Path(".slaflow"),
    host: Annotated[str, typer.Option(help="interface for the Prefect UI and the HTTP app")] = "127.0.0.1",
    prefect_port: Annotated[int, typer.Option(help="Prefect server (UI and API) port")] = 4200,
    http_port: Annotated[int, typer.Option(help="HTTP app port")] = 8000,
    http: Annotated[bool, typer.Option(help="start the HTTP app (when installed)")] = True,
    sweep_interval: SweepOption = 10,
    sweeper_restart: RestartOption = 60,
    sweeper_life: LifeOption = 600,
    startup_timeout: Annotated[float, typer.Option(help="seconds to wait for the Prefect server")] = 120,
    database_url: DbOption = None,
    config: ConfigOption = None,
) -> None:
    """Run everything on this machine: Prefect server, the deployments, HTTP app (if installed)
    and a worker."""
    from flows.server import LEAN_POSTGRES, LEAN_SERVER, QUIET_SERVER, prefect_database_for
    from runtime.assembly import Runtime

    _export(database_url, config)
    runtime = Runtime.from_env()
    runtime.company  # noqa: B018  (a missing or broken company file stops `up` before anything starts)
    runtime.migrate()  # one machine: make the database ready, as `slaflow init` would
    prefect_home = (data_dir / "prefect").resolve()
    prefect_home.mkdir(parents=True, exist_ok=True)
    api_url = f"http://{_client_host(host)}:{prefect_port}/api"
    env = {**os.environ, **OFFLINE_ENV, **QUIET_SERVER, "PREFECT_HOME": str(prefect_home), "PREFECT_API_URL": api_url}
    server_db = env.get("PREFECT_SERVER_DATABASE_CONNECTION_URL") or prefect_database_for(runtime.settings.database_url)
    if server_db:
        env["PREFECT_SERVER_DATABASE_CONNECTION_URL"] = server_db
    server_env = {**LEAN_SERVER, **(LEAN_POSTGRES if server_db and server_db.startswith("postgresql") else {})}
    server_env = {name: env.get(name, value) for name, value in server_env.items()}  # the operator's win
    children: list[_Child] = []
    stop = _install_stop_handler()
    try:
        children.append(_start("prefect server", [
            sys.executable, "-m", "prefect", "server", "start", "--host", host, "--port", str(prefect_port),
            "--analytics-off",
        ], {**env, **server_env}))
        _wait_healthy(api_url, children[0], startup_timeout, stop)
        typer.echo(f"Prefect UI: http://{_client_host(host)}:{prefect_port} (database: "
                   f"{_hide_password(server_db) if server_db else prefect_home / 'prefect.db'})")
        _run_step("deployments", [
            sys.executable, "-m", "slaflow.commands.flows", "deploy", "--sweep-interval", str(sweep_interval),
            "--sweeper-restart", str(sweeper_restart), "--sweeper-life", str(sweeper_life),
        ], env)
        if not http:
            typer.echo("HTTP app: not started (--no-http)")
        elif _http_app_available():
            from crm.processor import PROCESSOR_ENV

            # As `slaflow serve`: webhooks are turned into cases by a process of their own, the
            # HTTP app only stores them and rings it.
            children.append(_start("inbox processor", [sys.executable, "-m", "slaflow.commands.crm", "work"], env))
            children.append(_start("http app", [
                sys.executable, "-m", "uvicorn", "api.app:app_from_env", "--factory",
                "--host", host, "--port", str(http_port), "--log-level", "warning",
            ], {**env, PROCESSOR_ENV: "process"}))
            typer.echo(f"HTTP app: http://{_client_host(host)}:{http_port}")
        else:
            typer.echo("HTTP app: not installed (api.app missing); running without it")
        children.append(_start("worker", [sys.executable, "-m", "slaflow.commands.flows", "worker"], env))
        typer.echo("running; Ctrl-C stops the worker, the HTTP app, the inbox processor and the server, in that order")
        code = _supervise(children, stop)
    finally:
        _shutdown(children)
    if code:
        raise typer.Exit(code)


def _hide_password(url: str) -> str:
    from sqlalchemy.engine import make_url

    return make_url(url).render_as_string(hide_password=True)


def _run_step(name: str, command: list[str], env: Mapping[str, str]) -> None:
    """A one-off child (``deploy``): its output is shown; a failure stops ``up``."""
    done = subprocess.run(command, env=dict(env), check=False)
    if done.returncode:
        raise SlaflowError(f"{name}: `{' '.join(command[1:])}` exited with code {done.returncode}")


def _client_host(host: str) -> str:
    return "127.0.0.1" if host in ("0.0.0.0", "::", "") else host


def _http_app_available() -> bool:
    """True when the HTTP app module exists and has its uvicorn factory."""
    if importlib.util.find_spec("api") is None or importlib.util.find_spec("api.app") is None:
        return False
    return hasattr(importlib.import_module("api.app"), "app_from_env")


def _start(name: str, command: list[str], env: Mapping[str, str]) -> _Child:
    # A session of its own: Ctrl-C reaches only `up`, which then stops the children in order.
    process = subprocess.Popen(command, env=dict(env), start_new_session=True)
    typer.echo(f"started {name} (pid {process.pid})")
    return _Child(name, process)


def _wait_healthy(api_url: str, server: _Child, timeout: float, stop: _Stop) -> None:
    import httpx

    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if stop.requested:
            raise typer.Exit(0)
        if server.process.poll() is not None:
            raise SlaflowError(f"the Prefect server exited with code {server.process.returncode}; see its output above")
        try:
            if httpx.get(f"{api_url}/health", timeout=2).status_code == 200:
                return
        except httpx.HTTPError:
            pass
        time.sleep(0.5)
    raise SlaflowError(f"the Prefect server did not answer {api_url}/health within {timeout:.0f} s")


class _Stop:
    requested = False


def _install_stop_handler() -> _Stop:
    stop = _Stop()

    def handler(signum: int, _frame: FrameType | None) -> None:
        stop.requested = True

    signal.signal(signal.SIGINT, handler)
    signal.signal(signal.SIGTERM, handler)
    return stop


def _supervise(children: list[_Child], stop: _Stop) -> int:
    """Wait for Ctrl-C (exit 0) or for a child to die (exit 1: the others are stopped too)."""
    while not stop.requested:
        for child in children:
            if child.process.poll() is not None:
                typer.echo(f"{child.name} exited with code {child.process.returncode}; stopping the others", err=True)
                return 1
        time.sleep(0.5)
    typer.echo("stopping")
    return 0


def _shutdown(children: list[_Child], grace: float = 75) -> None:
    """Stop the children newest first (worker, HTTP app, then the server the worker talks to)."""
    for child in reversed(children):
        if child.process.poll() is None:
            child.process.send_signal(signal.SIGINT)
            try:
                child.process.wait(timeout=grace)
            except subprocess.TimeoutExpired:
                child.process.kill()
                child.process.wait()
        typer.echo(f"stopped {child.name} (exit {child.process.returncode})")


app = typer.Typer(help="slaflow's Prefect side: deployments, workers and the one-machine set-up.", no_args_is_help=True)
app.command("deploy")(deploy)
app.command("worker")(worker)
app.command("up")(up)


def main() -> None:
    try:
        app()
    except SlaflowError as exc:
        typer.echo(f"error: {exc}", err=True)
        raise SystemExit(2) from None


if __name__ == "__main__":
    main()
