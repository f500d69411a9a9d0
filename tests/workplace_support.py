"""Shared set-up of the workplace tests: the example company with passwords for the people who
act on a return (storekeeper, dispatcher, accountant, warehouse head), and cases opened through
the engine as sales opens them."""

from __future__ import annotations

from datetime import datetime
from pathlib import Path
from typing import Any

from api.testing import PASSWORDS, runtime, set_passwords, write_config
from engine import cases

WORKERS = {**PASSWORDS, "popov": "popov-storekeeper-pw", "volkova": "volkova-storekeeper-pw",
           "kozlov": "kozlov-dispatcher-pw", "smirnov": "smirnov-warehouse-head-pw",
           "lebedev": "lebedev-logistics-head-pw"}


def company_with_people(db_url: str, directory: Path) -> Path:
    config = write_config(directory)
    set_passwords(db_url, config, WORKERS)
    return config


def open_return(db_url: str, config: Path, now: datetime, **data: Any) -> int:
    """A return opened by a sales manager (ivanov), as the CLI or the CRM would."""
    served = runtime(db_url, config)
    try:
        with served.sessions.begin() as session:
            record = cases.open_case(session, served.company, case_type="return",
                                     data={"customer": "ООО Ромашка", "order": "SO-1001", "reason": "defect", **data},
                                     actor=served.company.actor("ivanov"), now=now)
            return record.id
    finally:
        served.engine.dispose()
