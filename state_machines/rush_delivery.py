"""Rush delivery: sales asks for faster-than-normal delivery for a large or new customer;
logistics confirms a slot; the warehouse picks out of queue; logistics delivers; sales confirms."""

from state_machines.schema import CaseTypeDef

DEFINITION = CaseTypeDef.model_validate(
    {
        "name": "rush_delivery",
        "label": {"ru": "Срочная доставка", "en": "Rush delivery", "pl": "Pilna dostawa"},
        "description": {
            "ru": (
                "Логистика подтверждает срочный слот, склад собирает заказ вне очереди, логистика доставляет."
            ),
            "en": (
                "Logistics confirms a rush slot, the warehouse picks out of turn and logistics delivers."
            ),
            "pl": (
                "Logistyka potwierdza pilny termin, magazyn kompletuje poza kolejką, a logistyka dostarcza."
            ),
        },
        "definitions": [
            {
                "term": {
                    "ru": "Срочная доставка",
                    "en": "Rush delivery",
                    "pl": "Dostawa pilna",
                },
                "definition": {
                    "ru": (
                        "Срочная доставка — это доставка быстрее стандартного графика по просьбе клиента. Её "
                        "запрашивает менеджер по продажам, указывая заказ и дату, обещанную клиенту. Склад "
                        "собирает такой заказ вне очереди, а логистика бронирует отдельный слот. Логистика "
                        "вправе отказать, если слот невозможен, и обязана назвать причину."
                    ),
                    "en": (
                        "A rush delivery is a delivery faster than the standard schedule at the customer's "
                        "request. The sales manager asks for it, naming the order and the date promised to the "
                        "customer. The warehouse picks such an order out of turn and logistics books a separate"
                        " slot. Logistics may decline when no slot is possible, and must give the reason."
                    ),
                    "pl": (
                        "Dostawa pilna to dostawa szybsza niż standardowy harmonogram, na prośbę klienta. Zleca"
                        " ją handlowiec, podając zamówienie i datę obiecaną klientowi. Magazyn kompletuje takie"
                        " zamówienie poza kolejką, a logistyka rezerwuje osobny termin. Logistyka może odmówić,"
                        " gdy termin jest niemożliwy, i musi podać przyczynę."
                    ),
                },
            }
        ],
        "requester": "sales",
        "performer": "logistics",
        "initial": "slot_confirmation",
        "open_requires": ["customer", "order", "deliver_by", "reason"],
        "target": "24h",
        "promised_by": "deliver_by",
        "priority": [{"when": {"priority": "high"}, "factor": 0.5}, {"when": {"customer_tier": "key"}, "factor": 0.75}],
        "fields": {
            "customer": {"label": {"ru": "Клиент", "en": "Customer", "pl": "Klient"}},
            "order": {"label": {"ru": "Заказ", "en": "Order", "pl": "Zamówienie"}},
            "deliver_by": {"label": {"ru": "Доставить до", "en": "Deliver by", "pl": "Dostarczyć do"}},
            "reason": {"label": {"ru": "Причина", "en": "Reason", "pl": "Powód"}},
            "slot": {"label": {"ru": "Слот доставки", "en": "Delivery slot", "pl": "Termin dostawy"}},
            "pick_list": {"label": {"ru": "Лист сборки", "en": "Pick list", "pl": "Lista kompletacji"}},
            "waybill": {"label": {"ru": "Накладная", "en": "Waybill", "pl": "List przewozowy"}},
        },
        "states": {
            "slot_confirmation": {
                "label": {"ru": "Подтверждение слота", "en": "Slot confirmation", "pl": "Potwierdzenie terminu"},
                "department": "logistics",
                "role": "dispatcher",
                "target": "2h",
            },
            "picking": {
                "label": {"ru": "Сборка вне очереди", "en": "Out-of-queue picking", "pl": "Kompletacja poza kolejką"},
                "department": "warehouse",
                "role": "storekeeper",
                "target": "2h",
            },
            "delivery": {
                "label": {"ru": "Доставка", "en": "Delivery", "pl": "Dostawa"},
                "department": "logistics",
                "role": "dispatcher",
                "target": "8h",
            },
            "confirmation": {
                "label": {"ru": "Подтверждение клиентом", "en": "Customer confirmation", "pl": "Potwierdzenie"},
                "department": "sales",
                "role": "manager",
                "target": "4h",
            },
            "delivered": {"label": {"ru": "Доставлено", "en": "Delivered", "pl": "Dostarczono"}, "terminal": True},
            "declined": {"label": {"ru": "Отказано", "en": "Declined", "pl": "Odmowa"}, "terminal": True},
        },
        "transitions": [
            {
                "trigger": "confirm_slot",
                "label": {"ru": "Подтвердить слот", "en": "Confirm the slot", "pl": "Potwierdź termin"},
                "source": "slot_confirmation",
                "dest": "picking",
                "allowed": ["logistics"],
                "requires": ["slot"],
            },
            {
                "trigger": "decline",
                "label": {"ru": "Отказать", "en": "Decline", "pl": "Odmów"},
                "source": "slot_confirmation",
                "dest": "declined",
                "allowed": ["logistics"],
                "requires": ["reason"],
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
             "source": "confirmation", "dest": "delivered", "allowed": ["sales"]},
        ],
    }
)
