"""Rush delivery: sales asks for faster-than-normal delivery for a large or new customer;
logistics confirms a slot; the warehouse picks out of queue; logistics delivers; sales confirms."""

from state_machines.schema import CaseTypeDef

DEFINITION = CaseTypeDef.model_validate(
    {
        "name": "rush_delivery",
        "label": {"ru": "Срочная доставка", "en": "Rush delivery", "pl": "Pilna dostawa"},
        "requester": "sales",
        "performer": "logistics",
        "initial": "slot_confirmation",
        "open_requires": ["customer", "order", "deliver_by", "reason"],
        "target": "24h",
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
                "source": "slot_confirmation",
                "dest": "picking",
                "allowed": ["logistics"],
                "requires": ["slot"],
            },
            {
                "trigger": "decline",
                "source": "slot_confirmation",
                "dest": "declined",
                "allowed": ["logistics"],
                "requires": ["reason"],
            },
            {
                "trigger": "picked",
                "source": "picking",
                "dest": "delivery",
                "allowed": ["warehouse"],
                "requires": ["pick_list"],
            },
            {
                "trigger": "delivered",
                "source": "delivery",
                "dest": "confirmation",
                "allowed": ["logistics"],
                "requires": ["waybill"],
            },
            {"trigger": "confirmed", "source": "confirmation", "dest": "delivered", "allowed": ["sales"]},
        ],
    }
)
