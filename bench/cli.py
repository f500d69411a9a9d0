"""Benchmark: how fast the ``slaflow`` command answers (wall time of a fresh process).

Run from the repository root::

    .venv/bin/python bench/cli.py --quick

Measures, each as the median of 5 runs: ``slaflow --help``; ``slaflow case show N`` and
``slaflow case list`` on a SQLite file holding the demo week's cases (the demo runs first, without
Prefect). The floor, measured in the same run, is a bare interpreter start (``python -c pass``):
on a busy machine every figure rises together, so the figures are also given above the floor.
Targets: ``--help`` under 0.5 s, ``case show`` under 1 s. ``--quick`` skips ``case list``.

The last line printed is one JSON object (the machine-readable result).
"""

from __future__ import annotations

import argparse
import json
import os
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
TARGETS = {"help_s": 0.5, "case_show_s": 1.0}
RUNS = 5


def timed(argv: list[str], env: dict[str, str]) -> float:
    """Median wall time of RUNS fresh processes running ``argv`` (each must exit 0)."""
    times = []
    for _ in range(RUNS):
        start = time.perf_counter()
        subprocess.run(argv, env=env, check=True, capture_output=True, cwd=ROOT)
        times.append(time.perf_counter() - start)
    return statistics.median(times)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--quick", action="store_true", help="skip `case list`")
    args = parser.parse_args()
    python = sys.executable
    slaflow = [python, "-m", "slaflow.cli"]
    with tempfile.TemporaryDirectory(prefix="slaflow-bench-cli-") as scratch:
        out = Path(scratch)
        example = ROOT / "runtime" / "examples" / "company.yaml"
        env = {**os.environ, "SLAFLOW_CONFIG": str(example), "SLAFLOW_DATABASE_URL": f"sqlite:///{out / 'demo.db'}",
               "COLUMNS": "200"}
        subprocess.run([*slaflow, "demo", "--no-prefect", "--out", str(out)], env=env, check=True,
                       capture_output=True, cwd=ROOT)
        figures = {
            "floor_python_s": timed([python, "-c", "pass"], env),
            "help_s": timed([*slaflow, "--help"], env),
            "case_show_s": timed([*slaflow, "case", "show", "10"], env),
        }
        if not args.quick:
            figures["case_list_s"] = timed([*slaflow, "case", "list"], env)
    floor = figures["floor_python_s"]
    result = {
        "benchmark": "cli",
        "runs_per_figure": RUNS,
        "load_average_1m": round(os.getloadavg()[0], 2),
        **{key: round(value, 3) for key, value in figures.items()},
        **{f"{key}_above_floor": round(value - floor, 3) for key, value in figures.items() if key != "floor_python_s"},
        "targets": TARGETS,
        "met": all(figures[key] < limit for key, limit in TARGETS.items()),
    }
    print(json.dumps(result))


if __name__ == "__main__":
    main()
