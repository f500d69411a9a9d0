"""Picking error: a customer reports wrong or missing items; the warehouse checks; logistics
ships the correction; sales confirms with the customer."""

from state_machines.schema import CaseTypeDef

DEFINITION = CaseTypeDef.model_validate(
    {
        "name": "picking_error",
        "label": {"ru": "Ошибка комплектации", "en": "Picking error", "pl": "Błąd kompletacji"},
        "description": {
            "ru": "Клиент получил не тот товар: склад проверяет, логистика отправляет исправление.",
            "en": (
                "The customer got the wrong items: the warehouse checks and logistics ships the correction."
            ),
            "pl": "Klient dostał niewłaściwy towar: magazyn sprawdza, a logistyka wysyła korektę.",
        },
        "definitions": [
            {
                "term": {
                    "ru": "Ошибка комплектации",
                    "en": "Picking error",
                    "pl": "Błąd kompletacji",
                },
                "definition": {
                    "ru": (
                        "Ошибка комплектации — это несоответствие отгруженного товара заказу по позициям или "
                        "количеству. Менеджер по продажам открывает случай по жалобе клиента с номером заказа. "
                        "Склад сверяет отгрузку с заказом и подтверждает или отклоняет ошибку. Подтверждённую "
                        "ошибку исправляет логистика, а клиент подтверждает получение."
                    ),
                    "en": (
                        "A picking error is a mismatch between the shipped goods and the order in items or "
                        "quantities. The sales manager opens a case from the customer's complaint with the "
                        "order number. The warehouse compares the shipment with the order and confirms or "
                        "rejects the error. Logistics ships the correction for a confirmed error and the "
                        "customer confirms receipt."
                    ),
                    "pl": (
                        "Błąd kompletacji to niezgodność wysłanego towaru z zamówieniem co do pozycji lub "
                        "ilości. Handlowiec otwiera sprawę na podstawie reklamacji klienta z numerem "
                        "zamówienia. Magazyn porównuje wysyłkę z zamówieniem i potwierdza lub odrzuca błąd. "
                        "Potwierdzony błąd koryguje logistyka, a klient potwierdza odbiór."
                    ),
                },
            }
        ],
        "requester": "sales",
        "performer": "warehouse",
        "initial": "check",
        "open_requires": ["customer", "order", "complaint"],
        "target": "32h",
        "fields": {
            "customer": {"label": {"ru": "Клиент", "en": "Customer", "pl": "Klient"}},
            "order": {"label": {"ru": "Заказ", "en": "Order", "pl": "Zamówienie"}},
            "complaint": {"label": {"ru": "Жалоба клиента", "en": "Complaint", "pl": "Reklamacja"}},
            "missing_items": {"label": {"ru": "Недостающие позиции", "en": "Missing items", "pl": "Brakujące pozycje"}},
            "reason": {"label": {"ru": "Причина", "en": "Reason", "pl": "Powód"}},
            "waybill": {"label": {"ru": "Накладная", "en": "Waybill", "pl": "List przewozowy"}},
            "details": {"label": {"ru": "Подробности", "en": "Details", "pl": "Szczegóły"}},
        },
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
                "label": {"ru": "Ошибка подтверждена", "en": "Confirm the error", "pl": "Potwierdź błąd"},
                "source": "check",
                "dest": "shipping",
                "allowed": ["warehouse"],
                "requires": ["missing_items"],
            },
            {
                "trigger": "no_error",
                "label": {"ru": "Ошибки нет", "en": "No error", "pl": "Brak błędu"},
                "source": "check",
                "dest": "rejected",
                "allowed": ["warehouse"],
                "requires": ["reason"],
            },
            {
                "trigger": "shipped",
                "label": {"ru": "Отгружено", "en": "Shipped", "pl": "Wysłano"},
                "source": "shipping",
                "dest": "confirmation",
                "allowed": ["logistics"],
                "requires": ["waybill"],
            },
            {"trigger": "confirmed",
             "label": {"ru": "Клиент подтвердил", "en": "Customer confirmed", "pl": "Klient potwierdził"},
             "source": "confirmation", "dest": "resolved", "allowed": ["sales"]},
            {
                "trigger": "still_wrong",
                "label": {"ru": "Всё ещё неверно", "en": "Still wrong", "pl": "Nadal błędnie"},
                "source": "confirmation",
                "dest": "check",
                "allowed": ["sales"],
                "requires": ["details"],
            },
        ],
    }
)
