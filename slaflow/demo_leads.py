"""The demo's week of leads (called from ``slaflow.demo``): about two dozen leads arrive from
marketing's channels, sales takes them into work (some late), qualifies them, marks some
non-target, a few reservations are paid; both heads keep their requests; on Friday at 16:00 the
weekly lead letter goes out (a run of the ``weekly-lead-letter`` Prefect flow when the demo runs
Prefect) and the demo prints the funnel and each letter as its head receives it."""

from __future__ import annotations

from datetime import datetime, timedelta
from zoneinfo import ZoneInfo

from rich.console import Console
from sqlalchemy import select
from sqlalchemy.orm import Session, sessionmaker

from leads.config import leads_section
from leads.letter import enqueue_lead_letters
from leads.service import LeadFacts, record_lead_event, set_feedback_request
from notifications.outbox import dispatch_due
from notifications.render import render
from notifications.settings import NotificationSettings
from org.chart import Company
from reports.funnel_render import funnel_table, groups_table
from reports.labels import Labels
from reports.leads import lead_funnel
from reports.scope import report_zone
from storage.models import OutboxMessage

MSK = ZoneInfo("Europe/Moscow")
MONDAY = datetime(2026, 11, 16, tzinfo=MSK)
CHANNELS = ("Яндекс.Директ", "сайт", "звонок", "партнёр")
GROUPS = ("Насосы", "Клапаны", "Трубы")
REASONS = ("ищет работу", "поставщик, а не клиент", "ошибся номером", "частное лицо, не компания", "спам")
MANAGERS = ("ivanov", "petrova")
LETTER_AT = MONDAY + timedelta(days=4, hours=16)


def _plan() -> list[tuple[str, datetime, str, str, list[tuple[timedelta, str, str]]]]:
    """(key, received, channel, product group, [(after, status, person)]) for the week."""
    plan = [("LD-5531", MONDAY + timedelta(hours=10, minutes=10), "сайт", "Насосы",
             [(timedelta(minutes=40), "non_target", "petrova")])]  # the lead the demo's dispute is about
    for day in range(5):
        for n in range(5):
            received = MONDAY + timedelta(days=day, hours=9 + 2 * n, minutes=5 * day)
            person = MANAGERS[(day + n) % 2]
            moves = {
                0: [(timedelta(minutes=20), "taken", person), (timedelta(hours=2), "qualified", person)]
                + ([(timedelta(days=2), "reservation_paid", person)] if day in (0, 1, 2) else []),
                1: [(timedelta(minutes=95), "taken", person), (timedelta(hours=20), "qualified", person)],
                2: [(timedelta(minutes=30), "taken", person), (timedelta(hours=1), "non_target", person)],
                3: [(timedelta(minutes=40), "taken", person)],
                4: [] if day == 4 else [(timedelta(minutes=10), "taken", person), (timedelta(hours=3), "qualified",
                                                                                     person)],
            }[n]
            plan.append((f"LD-56{day}{n}", received, CHANNELS[(day + n) % 4], GROUPS[(day * 2 + n) % 3], moves))
    return plan


def run_lead_week(
    factory: sessionmaker[Session], company: Company, console: Console, *, url: str, prefect: bool,
    delivery: NotificationSettings,
) -> int:
    """Record the week's leads, send Friday's letters; return the messages delivered."""
    if leads_section(company) is None:
        return 0
    with factory.begin() as session:
        for who, department, request, expected in (
            ("kuznetsova", "sales", "Отключите кампанию «Вакансии» в Яндекс.Директе и спрашивайте ИНН в форме сайта",
             "Нецелевых лидов меньше 10% в неделю"),
            ("pavlova", "marketing", "Берите лиды с сайта в работу в течение часа и ставьте товарную группу",
             "95% лидов взяты в работу в срок"),
        ):
            set_feedback_request(session, company, actor=company.actor(who), department=department, request=request,
                                 expected_result=expected, now=MONDAY + timedelta(hours=9))
        events = []
        for key, received, channel, group, moves in _plan():
            events.append((received, key, "new", "sidorov", LeadFacts(channel=channel, product_group=group)))
            for after, status, person in moves:
                reason = None
                if status == "non_target":  # the demo dispute's own words for its lead, else one per day
                    reason = "a student, not a company" if key == "LD-5531" else REASONS[int(key[-2])]
                events.append((received + after, key, status, person, LeadFacts(reason=reason)))
        for when, key, status, person, facts in sorted(events, key=lambda e: e[0]):
            if when <= LETTER_AT:
                record_lead_event(session, company, source="amocrm", external_key=key, status=status, at=when,
                                  actor=company.actor(person), facts=facts)
    if prefect:  # as the schedule runs it: a Prefect flow run (the demo set Prefect up offline)
        from prefect.settings import PREFECT_FLOWS_HEARTBEAT_FREQUENCY, temporary_settings

        from flows.lead_letter import weekly_lead_letter

        with temporary_settings({PREFECT_FLOWS_HEARTBEAT_FREQUENCY: None}):
            weekly_lead_letter(at=LETTER_AT, database_url=url)
    else:
        with factory.begin() as session:
            enqueue_lead_letters(session, company, now=LETTER_AT)
    delivered = dispatch_due(factory, company, now=LETTER_AT, owner="demo", settings=delivery).sent
    _print(factory, company, console)
    return delivered


def _print(factory: sessionmaker[Session], company: Company, console: Console) -> None:
    zone = report_zone(company)
    labels = Labels(company, company.locale, zone)
    with factory() as session:
        funnel = lead_funnel(session, since=MONDAY, until=MONDAY + timedelta(days=7), tz=zone, now=LETTER_AT)
        letters = session.scalars(
            select(OutboxMessage).where(OutboxMessage.kind == "lead_feedback", OutboxMessage.channel == "email")
            .order_by(OutboxMessage.id)
        ).all()
    console.print()
    console.print(funnel_table(funnel, labels))
    console.print(groups_table(funnel, labels))
    for letter in letters:
        mail = render("lead_feedback", letter.locale, "email", dict(letter.context))
        console.rule(f"weekly lead letter to {company.person_name(letter.recipient, 'en')} ({letter.status})")
        console.print(f"Subject: {mail.subject}\n\n{mail.text}", markup=False, highlight=False, soft_wrap=True)
