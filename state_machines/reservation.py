"""Reservation: sales asks to reserve stock for a big deal; the head of sales approves (taking
responsibility for depriving other sellers of small deals); the warehouse reserves; the stock is
held until converted to an order, cancelled, or released automatically at the end of the hold
(three working days);
accounting confirms the prepayment where required."""

from state_machines.schema import CaseTypeDef

DEFINITION = CaseTypeDef.model_validate(
    {
        "name": "reservation",
        "label": {"ru": "Резерв товара", "en": "Stock reservation", "pl": "Rezerwacja towaru"},
        "description": {
            "ru": (
                "Склад резервирует товар под крупную сделку; резерв снимается автоматически по истечении срока."
            ),
            "en": (
                "The warehouse holds stock for a large deal; the hold is released automatically when it "
                "expires."
            ),
            "pl": "Magazyn rezerwuje towar pod dużą transakcję; rezerwacja wygasa automatycznie.",
        },
        "definitions": [
            {
                "term": {
                    "ru": "Резерв на складе",
                    "en": "Stock hold",
                    "pl": "Rezerwacja towaru",
                },
                "definition": {
                    "ru": (
                        "Резерв на складе — это товар, который склад не продаёт другим клиентам, пока идёт "
                        "сделка. Резерв ставится только с одобрения руководителя отдела продаж. Он держится "
                        "двадцать четыре рабочих часа и снимается системой автоматически, если сделка не "
                        "состоялась. Резерв превращается в заказ после подтверждения предоплаты бухгалтерией "
                        "или без неё по решению продаж."
                    ),
                    "en": (
                        "A stock hold is stock the warehouse does not sell to other customers while a deal is "
                        "under way. A hold is placed only with the approval of the head of sales. It lasts "
                        "twenty-four business hours and the system releases it automatically if the deal does "
                        "not happen. A hold becomes an order once accounting confirms the prepayment, or "
                        "without one when sales decides so."
                    ),
                    "pl": (
                        "Rezerwacja towaru to towar, którego magazyn nie sprzedaje innym klientom w trakcie "
                        "transakcji. Rezerwacja powstaje tylko za zgodą kierownika sprzedaży. Trwa dwadzieścia "
                        "cztery godziny robocze, a system zwalnia ją automatycznie, gdy transakcja nie dojdzie "
                        "do skutku. Rezerwacja staje się zamówieniem po potwierdzeniu przedpłaty przez "
                        "księgowość albo bez niej decyzją sprzedaży."
                    ),
                },
            }
        ],
        "requester": "sales",
        "performer": "warehouse",
        "initial": "approval",
        "open_requires": ["customer", "deal", "items"],
        "priority": [{"when": {"priority": "high"}, "factor": 0.5}, {"when": {"customer_tier": "key"}, "factor": 0.75}],
        "fields": {
            "customer": {"label": {"ru": "Клиент", "en": "Customer", "pl": "Klient"}},
            "deal": {"label": {"ru": "Сделка", "en": "Deal", "pl": "Transakcja"}},
            "items": {"label": {"ru": "Позиции", "en": "Items", "pl": "Pozycje"}},
            "reason": {"label": {"ru": "Причина", "en": "Reason", "pl": "Powód"}},
            "reservation_doc": {"label": {
                "ru": "Документ резерва", "en": "Reservation document", "pl": "Dokument rezerwacji"
            }},
            "available_qty": {"label": {
                "ru": "Доступное количество", "en": "Available quantity", "pl": "Dostępna ilość"
            }},
            "order": {"label": {"ru": "Заказ", "en": "Order", "pl": "Zamówienie"}},
            "payment_doc": {"label": {
                "ru": "Платёжный документ", "en": "Payment document", "pl": "Dokument płatności"
            }},
        },
        "states": {
            "approval": {
                "label": {"ru": "Согласование РОП", "en": "Sales head approval", "pl": "Akceptacja kierownika"},
                "department": "sales",
                "role": "head",
                "target": "4h",
            },
            "reserving": {
                "label": {"ru": "Резервирование", "en": "Reserving stock", "pl": "Rezerwowanie"},
                "department": "warehouse",
                "role": "storekeeper",
                "target": "4h",
            },
            "held": {
                "label": {"ru": "Резерв держится", "en": "Stock held", "pl": "Towar zarezerwowany"},
                "department": "sales",
                "role": "manager",
                "paused": True,
                "auto": {"after": "24h", "trigger": "expire"},
            },
            "prepayment_check": {
                "label": {"ru": "Проверка предоплаты", "en": "Prepayment check", "pl": "Kontrola przedpłaty"},
                "department": "accounting",
                "role": "accountant",
                "target": "8h",
            },
            "converted": {
                "label": {"ru": "Заказ оформлен", "en": "Converted to order", "pl": "Zamówienie"},
                "terminal": True,
            },
            "released": {"label": {"ru": "Резерв снят", "en": "Released", "pl": "Zwolniona"}, "terminal": True},
            "cancelled": {"label": {"ru": "Отменён", "en": "Cancelled", "pl": "Anulowana"}, "terminal": True},
            "rejected": {"label": {"ru": "Отклонён", "en": "Rejected", "pl": "Odrzucona"}, "terminal": True},
        },
        "transitions": [
            {"trigger": "approve",
             "label": {"ru": "Одобрить", "en": "Approve", "pl": "Zatwierdź"},
             "source": "approval", "dest": "reserving", "allowed": ["sales/head"]},
            {
                "trigger": "reject",
                "label": {"ru": "Отклонить", "en": "Reject", "pl": "Odrzuć"},
                "source": "approval",
                "dest": "rejected",
                "allowed": ["sales/head"],
                "requires": ["reason"],
            },
            {
                "trigger": "reserved",
                "label": {"ru": "Зарезервировано", "en": "Reserved", "pl": "Zarezerwowano"},
                "source": "reserving",
                "dest": "held",
                "allowed": ["warehouse"],
                "requires": ["reservation_doc"],
            },
            {
                "trigger": "insufficient_stock",
                "label": {"ru": "Не хватает остатка", "en": "Insufficient stock", "pl": "Za mały stan"},
                "source": "reserving",
                "dest": "rejected",
                "allowed": ["warehouse"],
                "requires": ["available_qty"],
            },
            {
                "trigger": "convert",
                "label": {"ru": "Оформить заказ", "en": "Convert to an order", "pl": "Utwórz zamówienie"},
                "source": "held",
                "dest": "prepayment_check",
                "allowed": ["sales"],
                "requires": ["order"],
            },
            {
                "trigger": "convert_without_prepayment",
                "label": {
                    "ru": "Заказ без предоплаты", "en": "Order without prepayment", "pl": "Zamówienie bez przedpłaty"
                },
                "source": "held",
                "dest": "converted",
                "allowed": ["sales/head"],
                "requires": ["order"],
            },
            {
                "trigger": "prepayment_confirmed",
                "label": {"ru": "Предоплата получена", "en": "Prepayment confirmed", "pl": "Przedpłata potwierdzona"},
                "source": "prepayment_check",
                "dest": "converted",
                "allowed": ["accounting"],
                "requires": ["payment_doc"],
            },
            {"trigger": "expire",
             "label": {"ru": "Срок резерва истёк", "en": "Hold expired", "pl": "Rezerwacja wygasła"},
             "source": "held", "dest": "released", "allowed": ["system"]},
            {
                "trigger": "cancel",
                "label": {"ru": "Отменить", "en": "Cancel", "pl": "Anuluj"},
                "source": ["approval", "reserving", "held"],
                "dest": "cancelled",
                "allowed": ["sales"],
                "requires": ["reason"],
            },
        ],
    }
)
