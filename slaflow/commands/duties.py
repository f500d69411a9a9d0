"""``slaflow duties``: each recurring duty's latest information, how old it is now in the owing
department's business time, and whether it is stale (duties.age)."""

from __future__ import annotations

from rich.console import Console
from rich.table import Table

from duties.age import information_ages
from slaflow.cli_support import AtOption, ConfigOption, DbOption, JsonFlag, local_time, now_or, open_runtime, to_json


def duties(at: AtOption = None, as_json: JsonFlag = False, database_url: DbOption = None,
           config: ConfigOption = None) -> None:
    """Each duty's latest figures: when they were taken, their age now, stale or not."""
    with open_runtime(database_url, config) as runtime, runtime.reads() as session:
        company = runtime.company
        ages = information_ages(session, company, now_or(at))
    console = Console(soft_wrap=True)
    if as_json:
        console.print(to_json([vars(age) for age in ages], company.zone), highlight=False, markup=False)
        return
    table = Table("duty", "department", "delivered", "figures as of", "age (business min)", "stale")
    for age in ages:
        table.add_row(age.duty, age.department, local_time(age.delivered_at, company.zone),
                      local_time(age.as_of, company.zone), "-" if age.age_minutes is None else f"{age.age_minutes:.0f}",
                      "STALE" if age.stale else "")
    console.print(table)
