"""The demo's week: who does what when (Moscow time, the week of 16 Nov 2026), and how it prints
a moment."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime, time, timedelta
from typing import Any
from zoneinfo import ZoneInfo

MSK = ZoneInfo("Europe/Moscow")
WEEK_START = datetime(2026, 11, 16, tzinfo=MSK)  # a Monday with no Russian holidays that week
DAYS = {"Mon": 0, "Tue": 1, "Wed": 2, "Thu": 3, "Fri": 4}


@dataclass(frozen=True)
class Step:
    when: str
    """Moscow time, e.g. ``"Tue 09:30"``."""
    actor: str
    case: str
    """Demo label of the case (``R1`` ...)."""
    trigger: str
    """A trigger name, or ``open:<case type>``."""
    data: dict[str, Any]


SCRIPT: list[Step] = [
    Step(
        "Mon 09:30",
        "ivanov",
        "R1",
        "open:return",
        {"customer": "ООО Ромашка", "order": "SO-1041", "reason": "damaged packaging", "customer_unreliable": True},
    ),
    Step(
        "Mon 10:00",
        "petrova",
        "D1",
        "open:rush_delivery",
        {"customer": "ИП Сидоренко", "order": "SO-1042", "deliver_by": "2026-11-17", "reason": "new key account"},
    ),
    Step(
        "Mon 10:15",
        "ivanov",
        "V1",
        "open:reservation",
        {"customer": "ТД Восток", "deal": "DL-77", "items": "40 pallets of tiles"},
    ),
    Step(
        "Mon 11:00", "petrova", "L1", "open:lead_dispute", {"lead_id": "LD-5531", "reason": "a student, not a company"}
    ),
    Step("Mon 11:20", "kozlov", "D1", "confirm_slot", {"slot": "Tue 10:00"}),
    Step(
        "Mon 11:30",
        "ivanov",
        "P1",
        "open:replacement",
        {"customer": "ООО Вега", "order": "SO-1007", "product": "mixer M-200", "complaint": "motor stops"},
    ),
    Step(
        "Mon 12:00",
        "petrova",
        "E1",
        "open:picking_error",
        {"customer": "ООО Лира", "order": "SO-1033", "complaint": "2 boxes of grout missing"},
    ),
    Step(
        "Mon 12:30",
        "ivanov",
        "A1",
        "open:price_approval",
        {"customer": "ТД Восток", "deal": "DL-77", "discount_pct": 12},
    ),
    Step("Mon 13:00", "kuznetsova", "V1", "approve", {}),
    Step("Mon 13:30", "volkova", "D1", "picked", {"pick_list": "PL-553"}),
    Step("Mon 14:00", "nowak", "P1", "confirm_defect", {"cause": "faulty motor batch"}),
    Step("Mon 14:30", "volkova", "E1", "confirm_error", {"missing_items": "grout x2"}),
    Step("Mon 15:00", "morozova", "A1", "margin_ok", {"margin_pct": 18}),
    Step("Mon 16:00", "sidorov", "L1", "reject", {"justification": "the company domain was verified"}),
    Step("Mon 16:30", "popov", "V1", "reserved", {"reservation_doc": "RSV-901"}),
    Step("Tue 09:30", "popov", "R1", "approve", {"inspection_notes": "packaging damaged in transit"}),
    Step("Tue 10:00", "orlov", "A1", "approve", {}),
    Step("Tue 10:30", "popov", "P1", "out_of_stock", {}),
    Step("Tue 11:00", "kozlov", "D1", "delivered", {"waybill": "WB-7781"}),
    Step("Tue 12:00", "petrova", "D1", "confirmed", {}),
    # Three wrong moves, to show the errors: wrong department, missing field, wrong state.
    Step("Tue 12:30", "ivanov", "R1", "collected", {"waybill": "WB-0000"}),
    Step("Tue 12:35", "kozlov", "R1", "collected", {}),
    Step("Tue 12:40", "morozova", "R1", "refunded", {"document": "CN-311"}),
    Step("Wed 15:00", "kozlov", "R1", "collected", {"waybill": "WB-7790"}),
    Step("Wed 15:00", "orlov", "L1", "rule_for_sales", {"decision": "a private person is not a lead"}),
    Step("Thu 10:00", "lebedev", "E1", "acknowledge", {}),
    Step("Thu 11:00", "egorov", "P1", "supplied", {"supply_doc": "PO-4410"}),
    Step("Thu 12:00", "morozova", "R1", "refunded", {"document": "CN-311"}),
    Step("Fri 10:00", "popov", "P1", "picked", {"pick_list": "PL-560"}),
]
# Recurring information duties: delivered on time mostly; Wednesday's confirmation of deliveries
# and Thursday's payments come late, and the warehouse sends no stock figures on Thursday or Friday.
DUTY_STEPS: list[Step] = [
    *(
        Step(f"{day} 08:40", "popov", "-", "deliver:stock_on_hand", {"figures": {"tiles": 1200, "grout": 40}})
        for day in ("Mon", "Tue", "Wed")
    ),
    *(
        Step(
            f"{day} {hhmm}", "kozlov", "-", "deliver:deliveries_confirmed", {"figures": {"delivered": 14, "failed": 1}}
        )
        for day, hhmm in (("Mon", "08:45"), ("Tue", "08:50"), ("Wed", "10:30"), ("Thu", "08:50"), ("Fri", "08:40"))
    ),
    *(
        Step(f"{day} {hhmm}", "morozova", "-", "deliver:customer_payments", {"link": "https://bank.example/stmt"})
        for day, hhmm in (("Mon", "09:40"), ("Tue", "09:50"), ("Wed", "09:45"), ("Thu", "10:40"), ("Fri", "09:30"))
    ),
    Step("Mon 11:30", "egorov", "-", "deliver:supply_forecast", {"link": "https://erp.example/forecast"}),
]
START = "Mon 08:00"
END = "Fri 18:00"
SWEEP_EVERY = timedelta(minutes=30)


def at(label: str) -> datetime:
    day, hhmm = label.split()
    hours, minutes = (int(part) for part in hhmm.split(":"))
    return datetime.combine((WEEK_START + timedelta(days=DAYS[day])).date(), time(hours, minutes), tzinfo=MSK)




def local(moment: datetime | None) -> str:
    """A moment as the demo prints it: Moscow weekday and time (``Mon 09:30``)."""
    return "-" if moment is None else moment.astimezone(MSK).strftime("%a %H:%M")
