"""Duty: one occurrence of a recurring information duty (e.g. accounting's list of yesterday's
customer payments, which sales needs by 10:00 every working day).

The department that depends on the information requests it; the owing department has the one
step ``due`` and meets it with ``deliver`` (with the fields the duty asks for: a link, figures);
the requester's head may ``waive`` an occurrence. Occurrences are opened by the scheduler
(``duties.opening``), never by hand, so only ``system`` may open one.

Owner, requester, deadline and payload differ per duty, so each duty's cases run under
`duty_definition` specialised for it (stored with the case in the definition registry like any
definition version); `DEFINITION` is the shape registered under the name ``duty``.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

from state_machines.schema import CaseTypeDef
from state_machines.values import Label

NAME = "duty"
DUE, DELIVERED, WAIVED = "due", "delivered", "waived"
DELIVER, WAIVE = "deliver", "waive"

TERMS: dict[str, Any] = {
    "description": {
        "ru": (
            "Отдел в срок предоставляет продажам регулярную информацию: оплаты, остатки, поставки, доставки."
        ),
        "en": (
            "A department delivers recurring information to sales on time: payments, stock, supplies, "
            "deliveries."
        ),
        "pl": "Dział terminowo przekazuje sprzedaży cykliczne informacje: wpłaty, stany, dostawy.",
    },
    "definitions": [
        {
            "term": {
                "ru": "Актуальная информация",
                "en": "Fresh information",
                "pl": "Aktualna informacja",
            },
            "definition": {
                "ru": (
                    "Актуальная информация — это данные, на которые продажи опираются в работе с клиентом в "
                    "течение дня. К ним относятся оплаты клиентов, остатки на складе, товары в пути и вчерашние"
                    " отгрузки. Каждая обязанность имеет расписание, срок и ответственный отдел. Информация, "
                    "предоставленная после срока, считается нарушением обязанности отдела."
                ),
                "en": (
                    "Fresh information is the data sales relies on when dealing with customers during the day. "
                    "It includes customer payments, stock on hand, goods in transit and yesterday's shipments. "
                    "Every duty has a schedule, a deadline and an owing department. Information delivered after"
                    " the deadline counts as a breach of that department's duty."
                ),
                "pl": (
                    "Aktualna informacja to dane, na których sprzedaż opiera się w ciągu dnia w pracy z "
                    "klientem. Należą do nich wpłaty klientów, stany magazynowe, towary w drodze i wczorajsze "
                    "wysyłki. Każdy obowiązek ma harmonogram, termin i dział odpowiedzialny. Informacja "
                    "przekazana po terminie jest naruszeniem obowiązku działu."
                ),
            },
        }
    ],
}
"""The type's description and the terms it relies on (shown in the regulation's duties section)."""

TYPE_LABEL: dict[str, str] = {"ru": "Регулярная обязанность", "en": "Recurring duty", "pl": "Obowiązek cykliczny"}


def duty_definition(
    *,
    requester: str,
    performer: str,
    role: str | None = None,
    target: float | None = None,
    warn_at: float = 0.75,
    requires: Sequence[str] = (),
    label: Label | None = None,
) -> CaseTypeDef:
    """The duty case type for one duty: ``performer`` (``role``) owes the information to
    ``requester`` within ``target`` business minutes of the occurrence."""
    due: dict[str, Any] = {
        "label": {"ru": "Предоставить информацию", "en": "Information due", "pl": "Informacja do przekazania"},
        "department": performer,
        "role": role,
        "target": target,
        "warn_at": warn_at,
    }
    return CaseTypeDef.model_validate(
        {
            "name": NAME,
            "label": label if label is not None else TYPE_LABEL,
            **TERMS,
            "requester": requester,
            "performer": performer,
            "initial": DUE,
            "open_requires": ["duty", "occurrence"],
            "open_allowed": ["system"],
            "fields": {
                "duty": {"label": {"ru": "Обязанность", "en": "Duty", "pl": "Obowiązek"}},
                "occurrence": {"label": {"ru": "Период", "en": "Occurrence", "pl": "Okres"}},
                "reason": {"label": {"ru": "Причина", "en": "Reason", "pl": "Powód"}},
            },
            "states": {
                DUE: due,
                DELIVERED: {"label": {"ru": "Предоставлено", "en": "Delivered", "pl": "Przekazano"}, "terminal": True},
                WAIVED: {"label": {"ru": "Отменено", "en": "Waived", "pl": "Odstąpiono"}, "terminal": True},
            },
            "transitions": [
                {
                    "trigger": DELIVER,
                    "source": DUE,
                    "dest": DELIVERED,
                    "allowed": [performer],
                    "requires": list(requires),
                    "label": {"ru": "Предоставить", "en": "Deliver", "pl": "Przekaż"},
                },
                {
                    "trigger": WAIVE,
                    "source": DUE,
                    "dest": WAIVED,
                    "allowed": [f"{requester}/head"],
                    "requires": ["reason"],
                    "label": {"ru": "Отменить", "en": "Waive", "pl": "Odstąp"},
                },
            ],
        }
    )


DEFINITION = duty_definition(requester="sales", performer="accounting")
"""The registered shape (its departments are those of the first example duty; real occurrences
carry their duty's own specialisation)."""
