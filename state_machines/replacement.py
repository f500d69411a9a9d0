"""Replacement: sales requests it; quality finds the cause and checks the product; the warehouse
picks the replacement (purchasing supplies it when out of stock: the warehouse's clock pauses
while it waits on purchasing); logistics delivers; sales confirms with the customer."""

from state_machines.schema import CaseTypeDef

DEFINITION = CaseTypeDef.model_validate(
    {
        "name": "replacement",
        "label": {"ru": "Замена товара", "en": "Product replacement", "pl": "Wymiana towaru"},
        "description": {
            "ru": (
                "Отдел качества подтверждает брак, склад собирает замену, логистика доставляет её клиенту."
            ),
            "en": (
                "Quality confirms the defect, the warehouse picks the replacement and logistics delivers it."
            ),
            "pl": (
                "Dział jakości potwierdza wadę, magazyn kompletuje zamiennik, a logistyka go dostarcza."
            ),
        },
        "definitions": [
            {
                "term": {
                    "ru": "Подтверждённый брак",
                    "en": "Confirmed defect",
                    "pl": "Potwierdzona wada",
                },
                "definition": {
                    "ru": (
                        "Подтверждённый брак — это дефект товара, который отдел качества установил при "
                        "диагностике. Он возникает по вине производителя или склада, а не из-за неправильного "
                        "использования клиентом. Только подтверждённый брак даёт право на замену без оплаты. "
                        "Если нужного товара нет на складе, замену поставляют закупки, и время ожидания не "
                        "ставится в вину складу."
                    ),
                    "en": (
                        "A confirmed defect is a fault of the product that quality established in its "
                        "diagnosis. It is caused by the manufacturer or the warehouse, not by the customer's "
                        "misuse. Only a confirmed defect entitles the customer to a free replacement. When the "
                        "product is out of stock, purchasing supplies it, and the wait is not charged to the "
                        "warehouse."
                    ),
                    "pl": (
                        "Potwierdzona wada to usterka produktu ustalona przez dział jakości podczas diagnozy. "
                        "Powstaje z winy producenta lub magazynu, a nie przez niewłaściwe użycie przez klienta."
                        " Tylko potwierdzona wada daje prawo do bezpłatnej wymiany. Gdy produktu brak na "
                        "stanie, dostarczają go zakupy, a czas oczekiwania nie obciąża magazynu."
                    ),
                },
            }
        ],
        "requester": "sales",
        "performer": "quality",
        "initial": "diagnosis",
        "open_requires": ["customer", "order", "product", "complaint"],
        "target": "48h",
        "fields": {
            "customer": {"label": {"ru": "Клиент", "en": "Customer", "pl": "Klient"}},
            "order": {"label": {"ru": "Заказ", "en": "Order", "pl": "Zamówienie"}},
            "product": {"label": {"ru": "Товар", "en": "Product", "pl": "Produkt"}},
            "complaint": {"label": {"ru": "Жалоба клиента", "en": "Complaint", "pl": "Reklamacja"}},
            "cause": {"label": {"ru": "Причина брака", "en": "Cause", "pl": "Przyczyna wady"}},
            "reason": {"label": {"ru": "Причина", "en": "Reason", "pl": "Powód"}},
            "supply_doc": {"label": {"ru": "Документ поставки", "en": "Supply document", "pl": "Dokument dostawy"}},
            "pick_list": {"label": {"ru": "Лист сборки", "en": "Pick list", "pl": "Lista kompletacji"}},
            "waybill": {"label": {"ru": "Накладная", "en": "Waybill", "pl": "List przewozowy"}},
        },
        "states": {
            "diagnosis": {
                "label": {"ru": "Диагностика причины", "en": "Cause diagnosis", "pl": "Diagnoza przyczyny"},
                "department": "quality",
                "role": "inspector",
                "target": "8h",
            },
            "picking": {
                "label": {"ru": "Подбор замены", "en": "Picking the replacement", "pl": "Kompletacja"},
                "department": "warehouse",
                "role": "storekeeper",
                "target": "4h",
            },
            "awaiting_supply": {
                "label": {"ru": "Закупка замены", "en": "Supplying the replacement", "pl": "Zakup zamiennika"},
                "department": "purchasing",
                "role": "buyer",
                "target": "16h",
                "on_behalf_of": "picking",
            },
            "delivery": {
                "label": {"ru": "Доставка", "en": "Delivery", "pl": "Dostawa"},
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
            "done": {"label": {"ru": "Заменён", "en": "Replaced", "pl": "Wymieniony"}, "terminal": True},
            "declined": {"label": {"ru": "Отказано", "en": "Declined", "pl": "Odmowa"}, "terminal": True},
        },
        "transitions": [
            {
                "trigger": "confirm_defect",
                "label": {"ru": "Брак подтверждён", "en": "Confirm the defect", "pl": "Potwierdź wadę"},
                "source": "diagnosis",
                "dest": "picking",
                "allowed": ["quality"],
                "requires": ["cause"],
            },
            {
                "trigger": "decline",
                "label": {"ru": "Отказать", "en": "Decline", "pl": "Odmów"},
                "source": "diagnosis",
                "dest": "declined",
                "allowed": ["quality"],
                "requires": ["reason"],
            },
            {"trigger": "out_of_stock",
             "label": {"ru": "Нет на складе", "en": "Out of stock", "pl": "Brak na magazynie"},
             "source": "picking", "dest": "awaiting_supply", "allowed": ["warehouse"]},
            {
                "trigger": "supplied",
                "label": {"ru": "Поставка получена", "en": "Supplied", "pl": "Dostawa przyjęta"},
                "source": "awaiting_supply",
                "dest": "picking",
                "allowed": ["purchasing"],
                "requires": ["supply_doc"],
            },
            {
                "trigger": "picked",
                "label": {"ru": "Собрано", "en": "Picked", "pl": "Skompletowano"},
                "source": "picking",
                "dest": "delivery",
                "allowed": ["warehouse"],
                "requires": ["pick_list"],
            },
            {
                "trigger": "delivered",
                "label": {"ru": "Доставлено", "en": "Delivered", "pl": "Dostarczono"},
                "source": "delivery",
                "dest": "confirmation",
                "allowed": ["logistics"],
                "requires": ["waybill"],
            },
            {"trigger": "confirmed",
             "label": {"ru": "Клиент подтвердил", "en": "Customer confirmed", "pl": "Klient potwierdził"},
             "source": "confirmation", "dest": "done", "allowed": ["sales"]},
        ],
    }
)
