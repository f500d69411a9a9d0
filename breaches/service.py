"""Reviewing breaches: the owner records why a deadline was missed (a ``BreachCause`` and a note),
a head of the breach's department asks for an exemption, the director approves or rejects it.
Each change updates the breach's ``BreachReview`` and appends a ``BreachReviewEvent`` (who, when,
what) in the caller's transaction. An approved exemption is left out of every compliance figure
by the ledger (sla.ledger); the breach itself stays listed, marked exempted.

Reads go through the reader's scope (org.scope): a breach of a case the reader may not see is
reported exactly like one that does not exist."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from typing import Any

from sqlalchemy import ColumnElement, select
from sqlalchemy.orm import Session

from core.errors import InvalidData, NotPermitted, SlaflowError
from core.vocabulary import BreachCause, ExemptionStatus, ReviewAction
from org.actors import ReadScope, departments_under
from org.chart import Actor, Company
from org.scope import case_filter
from storage.models import Breach, BreachReview, BreachReviewEvent

MAX_NOTE = 2000


class BreachNotFound(SlaflowError):
    def __init__(self, breach_id: int) -> None:
        super().__init__(f"breach {breach_id} does not exist")
        self.breach_id = breach_id


class ReviewRefused(SlaflowError):
    """The review step does not fit where the exemption stands (a 409)."""


@dataclass(frozen=True)
class BreachView:
    breach: Breach
    review: BreachReview | None

    def as_dict(self) -> dict[str, Any]:
        b, r = self.breach, self.review
        return {
            "id": b.id, "case_id": b.case_id, "kind": b.kind, "department": b.department, "person": b.person,
            "state": b.state, "deadline_at": b.deadline_at, "breached_at": b.breached_at,
            "late_minutes": b.late_minutes,
            "cause": r.cause if r else None, "cause_note": r.cause_note if r else None,
            "cause_by": r.cause_by if r else None, "cause_at": r.cause_at if r else None,
            "exemption": r.exemption if r else None, "exemption_reason": r.exemption_reason if r else None,
            "requested_by": r.requested_by if r else None, "requested_at": r.requested_at if r else None,
            "decided_by": r.decided_by if r else None, "decided_at": r.decided_at if r else None,
            "decision_note": r.decision_note if r else None,
        }


def _note(text: str | None, what: str, *, required: bool) -> str | None:
    cleaned = (text or "").strip()
    if "\x00" in cleaned:
        raise InvalidData(f"{what} must not contain NUL characters")
    if len(cleaned) > MAX_NOTE:
        raise InvalidData(f"{what} is {len(cleaned)} characters long; at most {MAX_NOTE} are kept")
    if required and not cleaned:
        raise InvalidData(f"{what} is required")
    return cleaned or None


def get_breach(session: Session, scope: ReadScope, breach_id: int, *, for_update: bool = False) -> BreachView:
    """The breach with its review, if the reader may see its case (else ``BreachNotFound``)."""
    query = select(Breach).where(Breach.id == breach_id, case_filter(scope, Breach.case_id))
    breach = session.scalar(query.with_for_update() if for_update else query)
    if breach is None:
        raise BreachNotFound(breach_id)
    return BreachView(breach, session.get(BreachReview, breach_id))


def list_breaches(
    session: Session,
    scope: ReadScope,
    *,
    since: datetime | None = None,
    until: datetime | None = None,
    person: str | None = None,
    department: str | None = None,
    exemption: ExemptionStatus | None = None,
    limit: int = 1000,
) -> list[BreachView]:
    """Breaches whose deadline passed in ``[since, until)``, oldest first, within the scope."""
    where: list[ColumnElement[bool]] = [case_filter(scope, Breach.case_id)]
    if since is not None:
        where.append(Breach.breached_at >= since)
    if until is not None:
        where.append(Breach.breached_at < until)
    if person is not None:
        where.append(Breach.person == person)
    if department is not None:
        where.append(Breach.department == department)
    if exemption is not None:
        where.append(BreachReview.exemption == exemption.value)
    query = (
        select(Breach, BreachReview)
        .outerjoin(BreachReview, BreachReview.breach_id == Breach.id)
        .where(*where)
        .order_by(Breach.breached_at, Breach.id)
        .limit(limit)
    )
    return [BreachView(breach, review) for breach, review in session.execute(query).tuples()]


def _heads(company: Company, department: str) -> set[str]:
    """People who head the breach's department or a department above it."""
    return {
        dept.head for code, dept in company.config.departments.items() if department in departments_under(company, code)
    }


def _review(session: Session, breach: Breach) -> BreachReview:
    found = session.get(BreachReview, breach.id)
    if found is None:
        found = BreachReview(breach_id=breach.id, clock_id=breach.clock_id)
        session.add(found)
    return found


def _audit(session: Session, breach: Breach, actor: Actor, now: datetime, action: ReviewAction,
           note: str | None, cause: BreachCause | None = None) -> None:
    session.add(BreachReviewEvent(breach_id=breach.id, at=now, actor=actor.name, action=action.value,
                                  cause=None if cause is None else cause.value, note=note))


def record_cause(session: Session, company: Company, scope: ReadScope, *, breach_id: int, actor: Actor,
                 cause: BreachCause, note: str | None, now: datetime) -> BreachView:
    """The person charged with the breach (or a head above it, or the director) says why it happened."""
    view = get_breach(session, scope, breach_id, for_update=True)
    breach = view.breach
    allowed = {p for p in (breach.person, company.config.company.director) if p} | _heads(company, breach.department)
    if actor.person not in allowed:
        raise NotPermitted(actor.name, f"record the cause of breach {breach_id}", sorted(allowed))
    text = _note(note, "the note", required=cause is BreachCause.OTHER)
    review = _review(session, breach)
    review.cause, review.cause_note, review.cause_by, review.cause_at = cause.value, text, actor.name, now
    _audit(session, breach, actor, now, ReviewAction.CAUSE_RECORDED, text, cause)
    session.flush()
    return BreachView(breach, review)


def request_exemption(session: Session, company: Company, scope: ReadScope, *, breach_id: int, actor: Actor,
                      reason: str, now: datetime) -> BreachView:
    """A head of the breach's department (or above) asks the director to exempt it."""
    view = get_breach(session, scope, breach_id, for_update=True)
    breach = view.breach
    heads = _heads(company, breach.department)
    if actor.person not in heads:
        raise NotPermitted(actor.name, f"request an exemption of breach {breach_id}", sorted(heads))
    text = _note(reason, "the reason", required=True)
    review = _review(session, breach)
    if review.exemption in (ExemptionStatus.REQUESTED, ExemptionStatus.APPROVED):
        raise ReviewRefused(f"breach {breach_id}: an exemption is already {review.exemption}")
    review.exemption, review.exemption_reason = ExemptionStatus.REQUESTED.value, text
    review.requested_by, review.requested_at = actor.name, now
    review.decided_by = review.decided_at = review.decision_note = None
    _audit(session, breach, actor, now, ReviewAction.EXEMPTION_REQUESTED, text)
    session.flush()
    return BreachView(breach, review)


def decide_exemption(session: Session, company: Company, scope: ReadScope, *, breach_id: int, actor: Actor,
                     approve: bool, note: str | None, now: datetime) -> BreachView:
    """The director approves (the breach leaves compliance) or rejects a requested exemption."""
    view = get_breach(session, scope, breach_id, for_update=True)
    director = company.config.company.director
    if actor.person != director:
        raise NotPermitted(actor.name, f"decide the exemption of breach {breach_id}", [director])
    review = view.review
    if review is None or review.exemption != ExemptionStatus.REQUESTED:
        stands = "was never requested" if review is None or review.exemption is None else f"is {review.exemption}"
        raise ReviewRefused(f"breach {breach_id}: no exemption waits for a decision (it {stands})")
    text = _note(note, "the note", required=False)
    status = ExemptionStatus.APPROVED if approve else ExemptionStatus.REJECTED
    review.exemption, review.decided_by, review.decided_at, review.decision_note = status.value, actor.name, now, text
    action = ReviewAction.EXEMPTION_APPROVED if approve else ReviewAction.EXEMPTION_REJECTED
    _audit(session, view.breach, actor, now, action, text)
    session.flush()
    return BreachView(view.breach, review)


def review_events(session: Session, scope: ReadScope, breach_id: int) -> list[BreachReviewEvent]:
    """The audit of one breach, oldest first."""
    get_breach(session, scope, breach_id)
    return list(session.scalars(select(BreachReviewEvent).where(BreachReviewEvent.breach_id == breach_id)
                                .order_by(BreachReviewEvent.id)))
