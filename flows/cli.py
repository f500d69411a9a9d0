"""``slaflow worker`` and ``slaflow up`` (registered by slaflow/cli.py; also
``python -m flows.cli worker|up``).

``worker`` serves the flows against a running Prefect server (PREFECT_API_URL). ``up`` is the
one-machine set-up: a Prefect server (SQLite under the data directory), the HTTP app when it
is installed, and a worker, each a child process; Ctrl-C stops them in reverse order (the
worker first, so it can still pause its schedules on the server).
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

from flows._support import OFFLINE_ENV, apply_offline_env
from slaflow.errors import SlaflowError

DbOption = Annotated[str | None, typer.Option("--database-url", envvar="SLAFLOW_DATABASE_URL", help="SQLAlchemy URL")]
ConfigOption = Annotated[Path | None, typer.Option("--config", envvar="SLAFLOW_CONFIG", help="company YAML")]
SweepOption = Annotated[float, typer.Option(help="seconds between sweeps of due timers")]
DispatchOption = Annotated[float, typer.Option(help="seconds between outbox deliveries")]
InboxOption = Annotated[float, typer.Option(help="seconds between inbox safety-net runs")]
ReconcileOption = Annotated[float, typer.Option(help="seconds between stuck-timer reports")]
InstanceOption = Annotated[
    str | None, typer.Option(help="this worker's name in deployment names (default: the host name)")
]
ReportsOption = Annotated[bool, typer.Option(help="also serve company-wide scheduled reports (one worker only)")]
LimitOption = Annotated[int, typer.Option(help="flow runs this worker runs at once")]


def _export(database_url: str | None, config: Path | None) -> None:
    """Flow runs are child processes that read SLAFLOW_* themselves: pass the options on."""
    if database_url:
        os.environ["SLAFLOW_DATABASE_URL"] = database_url
    if config:
        os.environ["SLAFLOW_CONFIG"] = str(config.resolve())


def worker(
    sweep_interval: SweepOption = 30,
    dispatch_interval: DispatchOption = 30,
    inbox_interval: InboxOption = 10,
    reconcile_interval: ReconcileOption = 900,
    instance: InstanceOption = None,
    reports: ReportsOption = True,
    limit: LimitOption = 4,
    database_url: DbOption = None,
    config: ConfigOption = None,
) -> None:
    """Serve the sweeper, the outbox dispatcher and the inbox flow on their schedules.

    Needs a Prefect server (PREFECT_API_URL); run as many workers as you like, on as many
    machines: each timer still fires once."""
    apply_offline_env()
    _export(database_url, config)
    from prefect.settings import get_current_settings

    if not get_current_settings().api.url:
        raise SlaflowError(
            "PREFECT_API_URL is not set: point it at a Prefect server (http://HOST:4200/api), "
            "or run `slaflow up` to start one with a worker"
        )
    from flows.serve import serve_all

    serve_all(
        sweep_interval, dispatch_interval, inbox_interval, reconcile_interval,
        instance=instance, with_reports=reports, limit=limit,
    )


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
    sweep_interval: SweepOption = 30,
    dispatch_interval: DispatchOption = 30,
    inbox_interval: InboxOption = 10,
    startup_timeout: Annotated[float, typer.Option(help="seconds to wait for the Prefect server")] = 120,
    database_url: DbOption = None,
    config: ConfigOption = None,
) -> None:
    """Run everything on this machine: Prefect server, HTTP app (if installed) and a worker."""
    from slaflow.runtime import Runtime

    _export(database_url, config)
    Runtime.from_env().migrate()  # one machine: make the database ready, as `slaflow init` would
    prefect_home = (data_dir / "prefect").resolve()
    prefect_home.mkdir(parents=True, exist_ok=True)
    api_url = f"http://{_client_host(host)}:{prefect_port}/api"
    env = {**os.environ, **OFFLINE_ENV, "PREFECT_HOME": str(prefect_home), "PREFECT_API_URL": api_url}
    children: list[_Child] = []
    stop = _install_stop_handler()
    try:
        children.append(_start("prefect server", [
            sys.executable, "-m", "prefect", "server", "start", "--host", host, "--port", str(prefect_port),
            "--analytics-off",
        ], env))
        _wait_healthy(api_url, children[0], startup_timeout, stop)
        typer.echo(f"Prefect UI: http://{_client_host(host)}:{prefect_port}")
        if not http:
            typer.echo("HTTP app: not started (--no-http)")
        elif _http_app_available():
            children.append(_start("http app", [
                sys.executable, "-m", "uvicorn", "api.app:app_from_env", "--factory",
                "--host", host, "--port", str(http_port),
            ], env))
            typer.echo(f"HTTP app: http://{_client_host(host)}:{http_port}")
        else:
            typer.echo("HTTP app: not installed (api.app missing); running without it")
        children.append(_start("worker", [
            sys.executable, "-m", "flows.cli", "worker", "--sweep-interval", str(sweep_interval),
            "--dispatch-interval", str(dispatch_interval), "--inbox-interval", str(inbox_interval),
        ], env))
        code = _supervise(children, stop)
    finally:
        _shutdown(children)
    if code:
        raise typer.Exit(code)


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


def _shutdown(children: list[_Child], grace: float = 20) -> None:
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


app = typer.Typer(help="slaflow's Prefect side: workers and the one-machine set-up.", no_args_is_help=True)
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
