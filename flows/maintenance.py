"""The weekly index rebuild (`storage.maintenance`): the report indexes packed again on Sunday
night in the head office's time zone, so a quarter's report reads its pages, not twice as many."""

from __future__ import annotations

from prefect import flow

from flows._support import open_runtime, run_logger
from storage.maintenance import rebuild_indexes


@flow(name="rebuild-indexes", retries=0)
def rebuild_report_indexes(database_url: str | None = None) -> dict[str, int]:
    """Rebuild every report index; the bytes each one had before and has after."""
    log = run_logger(__name__)
    with open_runtime(database_url) as runtime:
        done = rebuild_indexes(runtime.engine)
    for rebuilt in done:
        log.info("%s: %d -> %d bytes in %.1f s", rebuilt.index, rebuilt.bytes_before, rebuilt.bytes_after,
                 rebuilt.seconds)
    return {rebuilt.index: rebuilt.bytes_after for rebuilt in done}
