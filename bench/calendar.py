"""Benchmark: ``BusinessCalendar.add_business_minutes`` calls per second.

Run from the repository root::

    .venv/bin/python bench/calendar.py --quick

Calendar: Moscow office hours with a lunch break (09:00-13:00, 14:00-18:00, Mon-Fri) and the
Russian public holidays, transfers and shortened days. Start instants are random (seeded) across
2026. Budgets: 4 hours (240 min) and 2 working weeks (10 days x 8 h = 4800 min). Targets: at least
100,000 calls/s for 4 hours, and the 2-week budget at most 3x slower than the 4-hour one.

The last line printed is one JSON object (the machine-readable result).
"""

# This file is called ``calendar.py``: when run as a script its directory is sys.path[0], where it
# would shadow the standard library's ``calendar`` module. Replace that entry with the repository
# root before anything else is imported.
import os
import sys

_ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
if sys.path and os.path.abspath(sys.path[0] or ".") == os.path.dirname(os.path.abspath(__file__)):
    sys.path[0] = _ROOT
elif _ROOT not in sys.path:
    sys.path.insert(0, _ROOT)

import argparse  # noqa: E402
import json  # noqa: E402
import random  # noqa: E402
import time  # noqa: E402
from collections.abc import Sequence  # noqa: E402
from datetime import UTC, datetime, timedelta  # noqa: E402

from sla.calendar import BusinessCalendar  # noqa: E402

TARGET_PER_S_4H = 100_000
TARGET_RATIO = 3
BUDGET_4H = 4 * 60
BUDGET_2W = 10 * 8 * 60

OFFICE = [["09:00", "13:00"], ["14:00", "18:00"]]
MSK_OFFICE = {
    "tz": "Europe/Moscow",
    "weekly_hours": {day: OFFICE for day in ("mon", "tue", "wed", "thu", "fri")},
    "holidays_country": "RU",
}


def random_starts(n: int, seed: int = 20260101) -> list[datetime]:
    """``n`` random aware instants across 2026 (second resolution, not aligned to minutes)."""
    rng = random.Random(seed)
    year_start = datetime(2026, 1, 1, tzinfo=UTC)
    seconds = 365 * 24 * 3600
    return [year_start + timedelta(seconds=rng.randrange(seconds)) for _ in range(n)]


def calls_per_second(cal: BusinessCalendar, starts: Sequence[datetime], minutes: float, repeats: int) -> float:
    """Best-of-``repeats`` throughput of add_business_minutes over ``starts``."""
    add = cal.add_business_minutes
    best = float("inf")
    for _ in range(repeats):
        t0 = time.perf_counter()
        for s in starts:
            add(s, minutes)
        best = min(best, time.perf_counter() - t0)
    return len(starts) / best


def main(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n", 1)[0] if __doc__ else None)
    parser.add_argument("--quick", action="store_true", help="fewer calls (finishes in a few seconds)")
    args = parser.parse_args(argv)
    n, repeats = (20_000, 3) if args.quick else (200_000, 5)

    t0 = time.perf_counter()
    cal = BusinessCalendar.from_mapping(MSK_OFFICE, name="msk_office")
    starts = random_starts(n)
    for s in starts[:100]:  # warm the per-year cache (2026 and the start of 2027)
        cal.add_business_minutes(s, BUDGET_2W)
    cal.add_business_minutes(datetime(2026, 12, 31, 12, tzinfo=UTC), BUDGET_2W)
    print(f"calendar built and cached in {time.perf_counter() - t0:.3f} s; {n} random starts in 2026")

    per_s_4h = calls_per_second(cal, starts, BUDGET_4H, repeats)
    per_s_2w = calls_per_second(cal, starts, BUDGET_2W, repeats)
    ratio = per_s_4h / per_s_2w
    print(f"4 hours : {per_s_4h:12,.0f} calls/s")
    print(f"2 weeks : {per_s_2w:12,.0f} calls/s  ({ratio:.2f}x the 4-hour cost)")

    ok = per_s_4h >= TARGET_PER_S_4H and ratio <= TARGET_RATIO
    result = {
        "bench": "calendar",
        "per_s_4h": round(per_s_4h),
        "per_s_2w": round(per_s_2w),
        "ratio_2w_to_4h": round(ratio, 3),
        "target_per_s_4h": TARGET_PER_S_4H,
        "target_ratio": TARGET_RATIO,
        "ok": ok,
    }
    print(json.dumps(result))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
