"""Lead services: record a status a CRM or a person reports, read leads, keep each head's
request for the weekly letter. Each runs inside the caller's transaction (keyword-only
``session``), so a router, a CRM mapping or the CLI decides when to commit.

The SLA deadlines are precomputed in the sales department's business calendar when a lead
arrives (first response) and when it is taken into work (qualification); whether a lead met
them is decided from its times alone (``sla_outcome``)."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from typing import TYPE_CHECKING, Any

from sqlalchemy import select

from core.clock import ensure_utc
from core.errors import InvalidData, NotPermitted, SlaflowError
from core.vocabulary import LeadStatus
from leads.config import LeadsConfig, leads_section
from leads.status import TIME_FIELD, implied, move_allowed
from sla.compliance import Outcome
from storage.models import Case, Lead, LeadEvent, LeadFeedback, table
from storage.prepared import prepared_insert

if TYPE_CHECKING:
    from sqlalchemy.orm import Session

    from org.chart import Actor, Company

LEAD_DISPUTE = "lead_dispute"
MAX_TEXT = 2000


class LeadNotFound(SlaflowError):
    def __init__(self, source: str, key: str) -> None:
        super().__init__(f"no lead {key!r} from {source!r}")


class LeadStatusRefused(SlaflowError):
    """The status would move the lead backwards or out of a final status."""

    def __init__(self, key: str, current: str, new: str) -> None:
        super().__init__(
            f"lead {key!r} is {current!r}; it cannot become {new!r} "
            "(leads move forward: new, taken, qualified, reservation_paid; non_target before a paid reservation)"
        )


def leads_config(company: Company) -> LeadsConfig:
    config = leads_section(company)
    if config is None:
        raise InvalidData(f"{company.source}: the company config has no 'leads:' section, so it keeps no lead records")
    return config


def check_lead_access(company: Company, actor: Actor) -> None:
    """Leads belong to sales and marketing: their members, their heads' managers and the director
    may read and record them; integrations act with the memberships they are configured with."""
    config = leads_config(company)
    if actor.is_system or actor.replaying or actor.departments & {config.sales, config.marketing}:
        return
    heads = {company.manager_of(company.head_of(code)) for code in (config.sales, config.marketing)}
    if actor.person is not None and actor.person in heads | {company.config.company.director}:
        return
    raise NotPermitted(actor.name, "read or record leads", [config.sales, config.marketing])


@dataclass(frozen=True)
class LeadFacts:
    """What a CRM event or an API call says about a lead besides its status (None: unchanged)."""

    channel: str | None = None
    product_group: str | None = None
    customer: str | None = None
    url: str | None = None
    owner: str | None = None
    reason: str | None = None
    """Why the lead is non-target (required for that status)."""


_INSERT_LEAD = prepared_insert(
    table(Lead),
    ("source", "external_key", "status", "received_at", "first_response_due_at", "updated_at", "version", "channel",
     "product_group", "customer", "url", "owner_person", "taken_at", "qualified_at", "reservation_paid_at",
     "non_target_at", "non_target_reason", "qualification_due_at"),
    unless_exists=("source", "external_key"),
)


def record_lead_event(
    session: Session,
    company: Company,
    *,
    source: str,
    external_key: str,
    status: LeadStatus | str,
    at: datetime,
    actor: Actor,
    facts: LeadFacts | None = None,
    payload: dict[str, Any] | None = None,
) -> Lead:
    """Create the lead on its first event and move it to ``status`` (with the statuses it skips),
    recording the event. Repeating the current status, or ``new`` for a lead that exists, only
    updates the facts (a CRM resends, or reports the arrival late); a move backwards is refused
    with ``LeadStatusRefused``. The CRM mapping and the API call this."""
    config = leads_config(company)
    check_lead_access(company, actor)
    new = _status(status)
    facts = facts or LeadFacts()
    _check_facts(company, source, external_key, new, facts)
    at = ensure_utc(at)
    lead = _get_or_create(session, company, config, source=source, key=external_key, at=at)
    current = LeadStatus(lead.status)
    if new is LeadStatus.NEW:
        new = current  # "a lead arrived", reported after it moved on: only its facts count
        if at < lead.received_at:  # ... and it arrived earlier than the first event we saw said
            lead.received_at = at
            lead.first_response_due_at = company.calendar_of(config.sales).add_business_minutes(
                at, config.first_response)
    else:
        at = max(at, _latest(lead))  # a CRM's clock may lag: a status never precedes the one before
    if new is not current and not move_allowed(current, new):
        raise LeadStatusRefused(external_key, current.value, new.value)
    _apply_facts(lead, facts)
    if lead.owner_person is None and actor.person is not None and new is not LeadStatus.NEW:
        lead.owner_person = actor.person  # whoever took it answers for it
    if new is not current:
        for step in implied(current, new):
            if getattr(lead, TIME_FIELD[step]) is None:
                setattr(lead, TIME_FIELD[step], at)
        if lead.taken_at is not None and lead.qualification_due_at is None:
            calendar = company.calendar_of(config.sales)
            lead.qualification_due_at = calendar.add_business_minutes(lead.taken_at, config.qualification)
        if new is LeadStatus.NON_TARGET:
            lead.non_target_reason = facts.reason
        lead.status = new.value
    lead.updated_at = max(lead.updated_at, at)
    lead.version += 1
    session.add(
        LeadEvent(lead_id=lead.id, at=at, from_status=current.value, to_status=new.value, actor=actor.name,
                  source=source, payload=_plain(payload or {}))
    )
    session.flush()
    return lead


def _latest(lead: Lead) -> datetime:
    times = (lead.received_at, lead.taken_at, lead.qualified_at, lead.reservation_paid_at, lead.non_target_at)
    return max(t for t in times if t is not None)


def _status(value: LeadStatus | str) -> LeadStatus:
    try:
        return LeadStatus(value)
    except ValueError:
        known = ", ".join(s.value for s in LeadStatus)
        raise InvalidData(f"unknown lead status {value!r}; use one of {known}") from None


def _check_facts(company: Company, source: str, key: str, status: LeadStatus, facts: LeadFacts) -> None:
    if not source.strip() or not key.strip() or len(source) > 32 or len(key) > 255:
        raise InvalidData("a lead needs a source (up to 32 characters) and a key (up to 255)")
    if status is LeadStatus.NON_TARGET and not (facts.reason or "").strip():
        raise InvalidData(f"lead {key!r}: a non-target lead needs a reason")
    if facts.owner is not None and facts.owner not in company.config.people:
        raise InvalidData(f"lead {key!r}: owner {facts.owner!r} is not in people")
    for name in ("channel", "product_group"):
        value = getattr(facts, name)
        if value is not None and len(value) > 64:
            raise InvalidData(f"lead {key!r}: {name} is longer than 64 characters")
    for name in ("customer", "url", "reason"):
        value = getattr(facts, name)
        if value is not None and len(value) > MAX_TEXT:
            raise InvalidData(f"lead {key!r}: {name} is longer than {MAX_TEXT} characters")


def _get_or_create(
    session: Session, company: Company, config: LeadsConfig, *, source: str, key: str, at: datetime
) -> Lead:
    """The lead, locked for this transaction; created (once, even when two events race) at ``at``."""
    found = _locked(session, source, key)
    if found is not None:
        return found
    due = company.calendar_of(config.sales).add_business_minutes(at, config.first_response)
    row = {
        "source": source, "external_key": key, "status": LeadStatus.NEW.value, "received_at": at,
        "first_response_due_at": due, "updated_at": at, "version": 0, "channel": None, "product_group": None,
        "customer": None, "url": None, "owner_person": None, "taken_at": None, "qualified_at": None,
        "reservation_paid_at": None, "non_target_at": None, "non_target_reason": None,
        "qualification_due_at": None,
    }
    _INSERT_LEAD.execute(session, row)
    created = _locked(session, source, key)
    assert created is not None
    return created


def _locked(session: Session, source: str, key: str) -> Lead | None:
    query = select(Lead).where(Lead.source == source, Lead.external_key == key).with_for_update()
    return session.scalars(query.execution_options(populate_existing=True)).first()


def _apply_facts(lead: Lead, facts: LeadFacts) -> None:
    for name, column in (("channel", "channel"), ("product_group", "product_group"), ("customer", "customer"),
                         ("url", "url"), ("owner", "owner_person")):
        value = getattr(facts, name)
        if value is not None:
            setattr(lead, column, value)


def _plain(payload: dict[str, Any]) -> dict[str, Any]:
    return {str(k): v if isinstance(v, str | int | float | bool) or v is None else str(v) for k, v in payload.items()}


# --------------------------------------------------------------------------- reading


def get_lead(session: Session, *, source: str, key: str) -> Lead:
    lead = session.scalars(select(Lead).where(Lead.source == source, Lead.external_key == key)).first()
    if lead is None:
        raise LeadNotFound(source, key)
    return lead


def lead_link(company: Company, lead: Lead) -> str | None:
    """The lead's own URL, else the configured CRM link pattern filled with its key."""
    if lead.url:
        return lead.url
    config = leads_section(company)
    return config.link.format(key=lead.external_key) if config is not None and config.link else None


def lead_events(session: Session, lead: Lead) -> list[LeadEvent]:
    return list(session.scalars(select(LeadEvent).where(LeadEvent.lead_id == lead.id).order_by(LeadEvent.id)))


def lead_disputes(session: Session, lead: Lead) -> list[Case]:
    """The lead-quality disputes about this lead: ``lead_dispute`` cases whose ``lead_id`` is the
    lead's key (what the CRM rules and people put there)."""
    query = select(Case).where(Case.case_type == LEAD_DISPUTE).order_by(Case.id)
    key_column = Case.data["lead_id"].as_string()
    return list(session.scalars(query.where(key_column == lead.external_key)))


def sla_outcome(due: datetime | None, done: datetime | None, now: datetime) -> Outcome | None:
    """``met``, ``breached`` or ``running`` (None without a deadline): decided from time alone."""
    if due is None:
        return None
    if done is not None:
        return Outcome.MET if done <= due else Outcome.BREACHED
    return Outcome.BREACHED if ensure_utc(now) > due else Outcome.RUNNING


def lead_view(session: Session, company: Company, lead: Lead, now: datetime) -> dict[str, Any]:
    """A lead as plain data: times, both SLAs, link, and the disputes about it."""
    answered = lead.taken_at or lead.non_target_at
    decided = lead.qualified_at or lead.non_target_at
    return {
        "id": lead.id, "source": lead.source, "key": lead.external_key, "status": lead.status,
        "channel": lead.channel, "product_group": lead.product_group, "customer": lead.customer,
        "owner": lead.owner_person, "url": lead_link(company, lead),
        "received_at": lead.received_at, "taken_at": lead.taken_at, "qualified_at": lead.qualified_at,
        "reservation_paid_at": lead.reservation_paid_at, "non_target_at": lead.non_target_at,
        "non_target_reason": lead.non_target_reason,
        "first_response_due_at": lead.first_response_due_at,
        "first_response": sla_outcome(lead.first_response_due_at, answered, now),
        "qualification_due_at": lead.qualification_due_at,
        "qualification": sla_outcome(lead.qualification_due_at, decided, now),
        "disputes": [{"case_id": case.id, "state": case.state} for case in lead_disputes(session, lead)],
    }


def list_leads(
    session: Session, *, since: datetime | None = None, until: datetime | None = None, status: str | None = None,
    limit: int = 100,
) -> list[Lead]:
    query = select(Lead).order_by(Lead.received_at, Lead.id).limit(limit)
    if since is not None:
        query = query.where(Lead.received_at >= ensure_utc(since))
    if until is not None:
        query = query.where(Lead.received_at < ensure_utc(until))
    if status is not None:
        query = query.where(Lead.status == _status(status).value)
    return list(session.scalars(query))


# --------------------------------------------------------------------------- the heads' requests


def set_feedback_request(
    session: Session, company: Company, *, actor: Actor, department: str, request: str, expected_result: str,
    now: datetime,
) -> LeadFeedback:
    """The head of ``department`` (sales or marketing) keeps what they ask of the other department
    and the result they expect; the weekly letter carries both until they change them."""
    config = leads_config(company)
    if department not in (config.sales, config.marketing):
        raise InvalidData(f"the lead letter goes between {config.sales!r} and {config.marketing!r}, not {department!r}")
    if actor.person != company.head_of(department):
        raise NotPermitted(actor.name, f"change the lead letter of {department!r}", [f"{department}/head"])
    request, expected_result = request.strip(), expected_result.strip()
    if not request or not expected_result or max(len(request), len(expected_result)) > MAX_TEXT:
        raise InvalidData(f"the request and the expected result must each be 1 to {MAX_TEXT} characters")
    row = session.get(LeadFeedback, department, with_for_update=True)
    if row is None:
        row = LeadFeedback(department=department)
        session.add(row)
    row.request, row.expected_result = request, expected_result
    row.updated_at, row.updated_by = ensure_utc(now), actor.name
    session.flush()
    return row


def feedback_request(session: Session, department: str) -> LeadFeedback | None:
    return session.get(LeadFeedback, department)
