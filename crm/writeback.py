"""Write-back: the case's progress appears on the CRM record it came from.

On the case events a rule's ``write_back`` names (opened, step changed, assigned, warning,
breach, escalation, resolved: the engine's events, `subscribe`) one outbox row per operation
is written in the engine's transaction: a timeline comment / note, and optionally fields such as "SLA status" or
"deadline". The outbox delivers them like any message (retried with backoff, Retry-After
obeyed, every attempt recorded, the dedupe key making each event one comment), through
`deliver`, which calls the CRM's API (`crm.api.vendors`)."""

from __future__ import annotations

from collections.abc import Callable
from datetime import datetime
from pathlib import Path
from typing import TYPE_CHECKING, Any
from zoneinfo import ZoneInfo

from jinja2 import StrictUndefined, TemplateError
from jinja2.sandbox import SandboxedEnvironment
from sqlalchemy import select

from crm.config import CaseEventKind, RuleConfig, crm_config
from engine import events as ev
from notifications import context as ctx
from notifications.enqueue import enqueue_direct
from notifications.outbox import deliver_direct
from notifications.transports.base import TransportError
from storage.models import Case

if TYPE_CHECKING:
    from sqlalchemy.orm import Session, sessionmaker

    from crm.api.registry import ApiRegistry
    from notifications.context import CaseLike
    from org.chart import Company

CHANNEL = "crm"
"""The outbox channel of write-back rows (the dispatcher hands them to `deliver`)."""
STATUS = {
    CaseEventKind.OPENED: "on_track", CaseEventKind.STEP_CHANGED: "on_track", CaseEventKind.ASSIGNED: "on_track",
    CaseEventKind.WARNING: "at_risk", CaseEventKind.BREACH: "breached", CaseEventKind.ESCALATION: "breached",
    CaseEventKind.RESOLVED: "resolved",
}
_TEMPLATES = SandboxedEnvironment(undefined=StrictUndefined, autoescape=False, keep_trailing_newline=False)
_COMMENTS = {path.stem: _TEMPLATES.from_string(path.read_text(encoding="utf-8"))
             for path in (Path(__file__).parent / "templates").glob("*.j2")}


def target_of(external_key: str, case_type: str) -> tuple[str, str, str]:
    """(account, entity kind, entity id) from a case's link ``[account/]kind:id:case_type``."""
    key = external_key.removesuffix(f":{case_type}")
    account, _, entity = key.rpartition("/") if "/" in key.partition(":")[0] else ("", "", key)
    kind, _, entity_id = entity.partition(":")
    return account or "default", kind, entity_id


def case_event(
    session: Session, company: Company, case: CaseLike, kind: CaseEventKind, *, now: datetime, key: str,
    level: int = 0,
) -> None:
    """Queue the write-back of one case event (in the caller's transaction), if a rule asks for it."""
    rules = crm_config(company).write_back_rules()
    if not rules or all(case_type != case.case_type for _, case_type in rules):
        return
    link = session.execute(select(Case.external_source, Case.external_key).where(Case.id == case.id)).one_or_none()
    if link is None or link.external_source is None or link.external_key is None:
        return
    rule = rules.get((link.external_source, case.case_type))
    if rule is None or rule.write_back is None or kind not in rule.write_back.on:
        return
    account, entity_kind, entity_id = target_of(link.external_key, case.case_type)
    target = {"source": link.external_source, "account": account, "kind": entity_kind, "id": entity_id}
    variables = _variables(company, case, kind, level, rule)
    recipient = f"crm:{link.external_source}"[:64]
    # A template that cannot render never fails the case change: the row carries the error and
    # the outbox records it as a failed delivery (`slaflow outbox list --status failed`).
    comment = _COMMENTS[rule.write_back.locale]
    if rule.write_back.comment:
        context = _rendered({"op": "comment", "target": target}, "text",
                            lambda: comment.render(**variables).strip())
        enqueue_direct(session, kind=kind.value, recipient=recipient, channel=CHANNEL, scope=f"{key}|comment",
                       context=context, now=now, case_id=case.id, level=level)
    if rule.write_back.fields:
        templates = rule.write_back.fields
        context = _rendered({"op": "fields", "target": target}, "fields", lambda: {
            name: _TEMPLATES.from_string(template).render(**variables) for name, template in templates.items()})
        enqueue_direct(session, kind=kind.value, recipient=recipient, channel=CHANNEL, scope=f"{key}|fields",
                       context=context, now=now, case_id=case.id, level=level)


_KINDS: dict[type[ev.CaseEvent], CaseEventKind] = {
    ev.CaseOpened: CaseEventKind.OPENED, ev.StepEntered: CaseEventKind.STEP_CHANGED,
    ev.CaseAssigned: CaseEventKind.ASSIGNED, ev.StepWarned: CaseEventKind.WARNING,
    ev.StepBreached: CaseEventKind.BREACH, ev.Escalated: CaseEventKind.ESCALATION,
    ev.CaseResolved: CaseEventKind.RESOLVED,
}


def _on_event(session: Session, company: Company, event: ev.CaseEvent) -> None:
    """An engine event onto the CRM record the case is linked to, if a rule asks for it."""
    if not crm_config(company).rules:
        return
    level = event.level if isinstance(event, ev.Escalated) else 0
    case_event(session, company, event.case, _KINDS[type(event)], now=event.now, key=f"crm|{event.key}", level=level)


def subscribe() -> None:
    """Write back on the engine's events and deliver the ``crm`` outbox channel (``runtime.wiring``
    calls this; idempotent)."""
    for kind in _KINDS:
        ev.subscribe(kind, _on_event)
    deliver_direct(CHANNEL, deliver)


def _rendered(context: dict[str, Any], key: str, render: Callable[[], Any]) -> dict[str, Any]:
    try:
        return {**context, key: render()}
    except TemplateError as exc:
        return {**context, "error": f"write-back template: {type(exc).__name__}: {exc}"}


SAMPLE_VARIABLES: dict[str, Any] = {
    "kind": "breach", "level": 1, "status": "breached", "case_id": 1, "case_type": "return", "state": "inspection",
    "state_label": "Inspection", "owner_department": "Warehouse", "owner_person": "Ivanov",
    "deadline": "2026-11-16 18:00 MSK",
    "case": {"id": 1, "type": "return", "type_label": "Return", "state": "inspection", "state_label": "Inspection",
             "owner_department_name": "Warehouse", "owner_person_name": "Ivanov", "requester_name": "Sales",
             "performer_name": "Warehouse", "data": {}, "opened_at": None, "due_at": None, "closed_at": None},
}
"""Every variable a write-back template sees (config validation renders field templates with it)."""


def template_problem(template: str) -> str | None:
    """Why a field template cannot render (a syntax error or an unknown variable), else None."""
    try:
        _TEMPLATES.from_string(template).render(**SAMPLE_VARIABLES)
    except TemplateError as exc:
        return f"{type(exc).__name__}: {exc}"
    return None


def _variables(company: Company, case: CaseLike, kind: CaseEventKind, level: int, rule: RuleConfig) -> dict[str, Any]:
    assert rule.write_back is not None
    locale = rule.write_back.locale
    about = case.owner_department or case.performer
    zone = ZoneInfo(company.calendar_of(about).config.tz)
    deadline = case.due_at.astimezone(zone).strftime("%Y-%m-%d %H:%M %Z") if case.due_at else ""
    return {
        "kind": kind.value, "level": level, "status": STATUS[kind], "case": ctx.case_context(company, case, locale),
        "case_id": case.id, "case_type": case.case_type, "state": case.state,
        "state_label": ctx.state_label(company, case.case_type, case.state, locale) or case.state,
        "owner_department": ctx.department_name(company, case.owner_department, locale) or "",
        "owner_person": ctx.person_name(company, case.owner_person, locale) or "",
        "deadline": deadline,
    }


def deliver(company: Company, context: dict[str, Any], now: datetime,
            sessions: sessionmaker[Session] | None = None) -> None:
    """Send one write-back row (called by the outbox dispatcher); raise `TransportError`.
    ``sessions`` keeps rotated OAuth tokens (a Bitrix24 app) in the database."""
    from crm.api.http import CrmApiError  # (here: every command wires write-back; only delivery needs httpx)

    target = context.get("target") or {}
    if context.get("error"):
        raise TransportError(str(context["error"]), permanent=True)
    registry = _registry(company, sessions)
    try:
        api = registry.get(str(target.get("source")), str(target.get("account")))
        if api is None:
            raise TransportError(f"{target.get('source')} account {target.get('account')} has no api: configured "
                                 "(crm.sources.<source>.api)", permanent=True)
        if context.get("op") == "fields":
            api.update_fields(str(target["kind"]), str(target["id"]), dict(context.get("fields") or {}))
        else:
            api.comment(str(target["kind"]), str(target["id"]), str(context.get("text") or ""), now)
    except CrmApiError as exc:
        raise TransportError(str(exc), permanent=exc.permanent, retry_after=exc.retry_after) from None
    except TemplateError as exc:
        raise TransportError(f"write-back template: {exc}", permanent=True) from None


def _registry(company: Company, sessions: sessionmaker[Session] | None) -> ApiRegistry:
    """Write-back clients make one try per attempt: the outbox owns the backoff."""
    from crm.api.registry import ApiRegistry

    registry = getattr(company, "_crm_writeback_registry", None)
    if not isinstance(registry, ApiRegistry):
        registry = ApiRegistry(company, retries=False, sessions=sessions)
        setattr(company, "_crm_writeback_registry", registry)  # noqa: B010
    return registry
