"""Scheduled messages for the heads: the weekly lead feedback letter between sales and marketing
(``weekly-lead-letter``, on the company's ``leads.letter_cron`` in the head office's time zone,
by default Fridays 16:00: the week's leads so far and the day's) and the daily digest of open
cases and yesterday's breaches (``daily-digest``, working days 09:00). Both only queue outbox
rows (the dispatcher delivers them); their dedupe keys carry the week or the day, so a schedule
that fires twice sends once.

Registered by ``flows.deploy.scheduled_reports`` through ``lead_deployments`` (fixed deployment
names: one worker serves company-wide schedules)."""

from __future__ import annotations

from datetime import datetime
from typing import TYPE_CHECKING, Any, cast

from prefect import flow

from core.clock import SystemClock, ensure_utc
from flows._support import open_runtime, run_logger
from leads.config import leads_section
from leads.letter import enqueue_lead_letters
from reports.digest import enqueue_daily_digests

if TYPE_CHECKING:
    from prefect import Flow
    from prefect.deployments.runner import RunnerDeployment

    from org.chart import Company

DIGEST_CRON = "0 9 * * 1-5"


@flow(name="weekly-lead-letter", retries=0)
def weekly_lead_letter(at: datetime | None = None, database_url: str | None = None, again: bool = False) -> int:
    """Queue this week's letter from each head (sales, marketing) to the other."""
    now = ensure_utc(at) if at is not None else SystemClock().now()
    with open_runtime(database_url) as runtime, runtime.sessions.begin() as session:
        written = enqueue_lead_letters(session, runtime.company, now=now, again=again)
    run_logger(__name__).info("lead letters at %s: %d messages queued", now.isoformat(), written)
    return written


@flow(name="daily-digest", retries=0)
def daily_digest(at: datetime | None = None, database_url: str | None = None) -> int:
    """Queue each department head's digest for today (skipped when they have nothing)."""
    now = ensure_utc(at) if at is not None else SystemClock().now()
    with open_runtime(database_url) as runtime, runtime.sessions.begin() as session:
        written = enqueue_daily_digests(session, runtime.company, now=now)
    run_logger(__name__).info("daily digests at %s: %d messages queued", now.isoformat(), written)
    return written


def lead_deployments(company: Company, tz: str, **options: Any) -> list[RunnerDeployment]:
    """Both flows as deployments on crons in ``tz`` (the head office's time zone); the letter
    only when the company keeps leads, on its ``leads.letter_cron``."""
    from prefect.schedules import Cron
    from prefect.types.entrypoint import EntrypointType

    plan: list[tuple[Flow[..., Any], str, str]] = [
        (daily_digest, DIGEST_CRON, "Each department head's digest: open cases and yesterday's breaches."),
    ]
    leads = leads_section(company)
    if leads is not None:
        plan.append((weekly_lead_letter, leads.letter_cron,
                     "The weekly lead letter between the heads of sales and marketing."))
    return [
        cast("RunnerDeployment", flow_.to_deployment(  # sync call: a deployment
            name="company", schedules=[Cron(cron, timezone=tz)], entrypoint_type=EntrypointType.MODULE_PATH,
            description=description, **options,
        ))
        for flow_, cron, description in plan
    ]
