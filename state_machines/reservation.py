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
        "requester": "sales",
        "performer": "warehouse",
        "initial": "approval",
        "open_requires": ["customer", "deal", "items"],
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
            {"trigger": "approve", "source": "approval", "dest": "reserving", "allowed": ["sales/head"]},
            {
                "trigger": "reject",
                "source": "approval",
                "dest": "rejected",
                "allowed": ["sales/head"],
                "requires": ["reason"],
            },
            {
                "trigger": "reserved",
                "source": "reserving",
                "dest": "held",
                "allowed": ["warehouse"],
                "requires": ["reservation_doc"],
            },
            {
                "trigger": "insufficient_stock",
                "source": "reserving",
                "dest": "rejected",
                "allowed": ["warehouse"],
                "requires": ["available_qty"],
            },
            {
                "trigger": "convert",
                "source": "held",
                "dest": "prepayment_check",
                "allowed": ["sales"],
                "requires": ["order"],
            },
            {
                "trigger": "convert_without_prepayment",
                "source": "held",
                "dest": "converted",
                "allowed": ["sales/head"],
                "requires": ["order"],
            },
            {
                "trigger": "prepayment_confirmed",
                "source": "prepayment_check",
                "dest": "converted",
                "allowed": ["accounting"],
                "requires": ["payment_doc"],
            },
            {"trigger": "expire", "source": "held", "dest": "released", "allowed": ["system"]},
            {
                "trigger": "cancel",
                "source": ["approval", "reserving", "held"],
                "dest": "cancelled",
                "allowed": ["sales"],
                "requires": ["reason"],
            },
        ],
    }
)
