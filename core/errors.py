"""Errors a user can act on. Each names what was wrong and what is allowed instead."""

from __future__ import annotations


class SlaflowError(Exception):
    """Base class: a specific, user-facing error. Nothing was changed when one is raised."""


class ConfigError(SlaflowError):
    """The company configuration is invalid (the message names file, path and problem)."""


class UnknownCaseType(SlaflowError):
    def __init__(self, name: str, known: list[str]) -> None:
        super().__init__(f"unknown case type {name!r}; known types: {', '.join(sorted(known))}")
        self.name = name


class CaseNotFound(SlaflowError):
    def __init__(self, case_id: int) -> None:
        super().__init__(f"case {case_id} does not exist")
        self.case_id = case_id


class UnknownPerson(SlaflowError):
    def __init__(self, person: str) -> None:
        super().__init__(f"unknown person {person!r}; people are listed under 'people' in the company config")


class IllegalTransition(SlaflowError):
    """The trigger is not defined from the case's current state."""

    def __init__(self, case_id: int, state: str, trigger: str, allowed: list[str]) -> None:
        allowed_text = ", ".join(allowed) if allowed else "none (the state is terminal)"
        super().__init__(
            f"case {case_id}: trigger {trigger!r} is not allowed in state {state!r}; allowed triggers: {allowed_text}"
        )
        self.state, self.trigger, self.allowed = state, trigger, allowed


class NotPermitted(SlaflowError):
    """The actor's department and roles may not fire this trigger (or open this case type)."""

    def __init__(self, actor: str, action: str, allowed: list[str]) -> None:
        super().__init__(f"{actor} may not {action}; allowed: {', '.join(allowed)}")
        self.allowed = allowed


class MissingFields(SlaflowError):
    def __init__(self, action: str, missing: list[str]) -> None:
        super().__init__(f"{action} requires the fields: {', '.join(missing)}")
        self.missing = missing


class InvalidData(SlaflowError):
    """Case data or payload that is not a JSON object of plain values."""


class ConflictError(SlaflowError):
    """Somebody else changed the case first; reload it and decide again."""

    def __init__(self, case_id: int, expected: int, actual: int) -> None:
        super().__init__(
            f"case {case_id} was changed concurrently (you saw version {expected}, it is now {actual}); "
            "reload the case and try again"
        )
        self.expected, self.actual = expected, actual


class DuplicateCase(SlaflowError):
    def __init__(self, source: str, external_key: str, case_id: int) -> None:
        super().__init__(f"a case for {source} key {external_key!r} already exists: case {case_id}")
        self.case_id = case_id


class NaiveDatetime(SlaflowError, ValueError):
    """A date and time without a UTC offset: its meaning would depend on the machine."""

    def __init__(self, moment: object) -> None:
        text = moment.isoformat() if hasattr(moment, "isoformat") else str(moment)
        super().__init__(f"{text} has no UTC offset; give one, e.g. 2026-12-01T10:00+03:00 or 2026-12-01T07:00Z")


class DatabaseNotReady(SlaflowError):
    """The database is missing, not initialised, or cannot be reached."""
