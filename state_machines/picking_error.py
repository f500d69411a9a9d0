"""Picking error: a customer reports wrong or missing items; the warehouse checks; logistics
ships the correction; sales confirms with the customer."""

from state_machines.schema import CaseTypeDef

DEFINITION = CaseTypeDef.model_validate(
    {
        "name": "picking_error",
        "label": {"ru": "Ошибка комплектации", "en": "Picking error", "pl": "Błąd kompletacji"},
        "requester": "sales",
        "performer": "warehouse",
        "initial": "check",
        "open_requires": ["customer", "order", "complaint"],
        "target": "32h",
        "states": {
            "check": {
                "label": {"ru": "Проверка склада", "en": "Warehouse check", "pl": "Kontrola magazynu"},
                "department": "warehouse",
                "role": "storekeeper",
                "target": "4h",
            },
            "shipping": {
                "label": {"ru": "Отправка исправления", "en": "Shipping the correction", "pl": "Wysyłka korekty"},
                "department": "logistics",
                "role": "dispatcher",
                "target": "16h",
            },
            "confirmation": {
                "label": {"ru": "Подтверждение клиентом", "en": "Customer confirmation", "pl": "Potwierdzenie"},
                "department": "sales",
                "role": "manager",
                "target": "8h",
            },
            "resolved": {"label": {"ru": "Исправлено", "en": "Resolved", "pl": "Rozwiązany"}, "terminal": True},
            "rejected": {"label": {"ru": "Ошибки нет", "en": "No error found", "pl": "Brak błędu"}, "terminal": True},
        },
        "transitions": [
            {
                "trigger": "confirm_error",
                "source": "check",
                "dest": "shipping",
                "allowed": ["warehouse"],
                "requires": ["missing_items"],
            },
            {
                "trigger": "no_error",
                "source": "check",
                "dest": "rejected",
                "allowed": ["warehouse"],
                "requires": ["reason"],
            },
            {
                "trigger": "shipped",
                "source": "shipping",
                "dest": "confirmation",
                "allowed": ["logistics"],
                "requires": ["waybill"],
            },
            {"trigger": "confirmed", "source": "confirmation", "dest": "resolved", "allowed": ["sales"]},
            {
                "trigger": "still_wrong",
                "source": "confirmation",
                "dest": "check",
                "allowed": ["sales"],
                "requires": ["details"],
            },
        ],
    }
)
