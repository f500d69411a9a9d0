"""The interaction regulation is rendered from the configuration: every case type, step, owner,
target and calendar, each department's duties both ways, in ru/en/pl, Markdown and HTML, and it
follows the configuration when that changes."""

from __future__ import annotations

import copy
import re
from pathlib import Path
from typing import Any

import pytest
import yaml
from markupsafe import escape
from typer import Typer
from typer.testing import CliRunner

from api.testing import example_mapping
from core.errors import SlaflowError
from duties.config import DutyConfig
from org.chart import Company
from regulation import LOCALES, escalation_chain, render_regulation, write_regulation
from regulation.render import texts
from runtime.company import company_from_mapping
from runtime.settings import EXAMPLE_COMPANY
from slaflow.commands.regulation import regulation
from state_machines.duty import NAME as DUTY_TYPE
from state_machines.values import label_text

DUTIES_YAML = EXAMPLE_COMPANY  # the example company lists its duties under `duties:`
RAW = example_mapping()
RAW_DUTIES = yaml.safe_load(DUTIES_YAML.read_text(encoding="utf-8"))["duties"]
EIGHT_HOURS = {"ru": "8 ч", "en": "8 h", "pl": "8 godz."}
MON_SAT = {"ru": "пн–сб 08:00–20:00", "en": "Mon–Sat 08:00–20:00", "pl": "pon.–sob. 08:00–20:00"}


def _escape(text: str) -> str:
    return str(escape(text))


def _duties(raw: list[dict[str, Any]] = RAW_DUTIES) -> list[DutyConfig]:
    return [DutyConfig.model_validate(item) for item in raw]


@pytest.fixture(scope="module")
def rendered(company: Company) -> dict[str, dict[str, str]]:
    return {locale: render_regulation(company, locale, duties=_duties()) for locale in LOCALES}


def _section(markdown: str, heading: str) -> str:
    """The text under a ``### n.m. heading`` up to the next heading of that level or above."""
    match = re.search(rf"^### [\d.]+ {re.escape(heading)} .*?(?=^#{{1,3}} )", markdown, re.S | re.M)
    assert match, heading
    return match.group(0)


@pytest.mark.parametrize("locale", LOCALES)
@pytest.mark.parametrize("fmt", ["md", "html"])
def test_it_shows_every_case_types_steps_owners_targets_and_calendars(
    company: Company, rendered: dict[str, dict[str, str]], locale: str, fmt: str
) -> None:
    text = rendered[locale][fmt]
    shown = _escape if fmt == "html" else str
    assert shown(label_text(company.config.company.name, locale)) in text
    for name, definition in company.case_types.items():
        if name == DUTY_TYPE:
            continue  # the duty template is described through each configured duty instead
        assert shown(label_text(definition.label, locale)) in text, name
        assert ("stateDiagram-v2" if fmt == "md" else '<svg xmlns="http://www.w3.org/2000/svg"') in text
        for state_name, state in definition.states.items():
            assert shown(label_text(state.label, locale)) in text, (name, state_name)
            if state.department:
                assert shown(company.department_name(state.department, locale)) in text
                for person in company.members(state.department, state.role) if state.role else []:
                    assert shown(company.person_name(person, locale)) in text, (name, state_name, person)
    for calendar_name, calendar in company.config.calendars.items():
        assert f"{calendar_name} ({calendar.tz})" in text
    assert EIGHT_HOURS[locale] in text
    assert MON_SAT[locale] in text
    for duty in _duties():
        assert shown(label_text(duty.label, locale)) in text
    assert "{{" not in text and "%s" not in text


@pytest.mark.parametrize("locale", LOCALES)
def test_each_step_names_its_owner_target_calendar_and_escalation_chain(
    rendered: dict[str, dict[str, str]], locale: str
) -> None:
    markdown = rendered[locale]["md"]
    expected = {
        "ru": [
            "Склад — кладовщик (Олег Попов, Наталья Волкова)",  # the config's role label, not the code
            "8 ч",
            "msk_warehouse (Europe/Moscow): пн–сб 08:00–20:00; государственные праздники: RU",
            "+4 ч после срока: Сергей Смирнов; +8 ч после срока: Андрей Орлов; +16 ч после срока: Андрей Орлов",
            "при 75% срока",
        ],
        "en": [
            "Warehouse — storekeeper (Oleg Popov, Natalia Volkova)",
            "8 h",
            "msk_warehouse (Europe/Moscow): Mon–Sat 08:00–20:00; public holidays of RU",
            "+4 h after the deadline: Sergey Smirnov; +8 h after the deadline: Andrey Orlov",
            "at 75% of the target",
        ],
        "pl": [
            "Magazyn — magazynier (Oleg Popov, Natalia Volkova)",
            "8 godz.",
            "msk_warehouse (Europe/Moscow): pon.–sob. 08:00–20:00; święta państwowe: RU",
            "+4 godz. po terminie: Sergey Smirnov; +8 godz. po terminie: Andrey Orlov",
            "po 75% terminu",
        ],
    }[locale]
    inspection = {"ru": "**Проверка товара**", "en": "**Goods inspection**", "pl": "**Kontrola towaru**"}[locale]
    step = markdown.split(inspection, 1)[1].split("\n\n**", 1)[0]
    for fact in expected:
        assert fact in step


def test_it_says_who_may_fire_each_action_and_what_they_must_supply(rendered: dict[str, dict[str, str]]) -> None:
    markdown = rendered["en"]["md"]
    assert (
        "- **Approve**: Sales head approval → Reserving stock; who may: Sales — head (Maria Kuznetsova); "
        "must supply: nothing" in markdown
    )
    assert (
        "- **Goods collected**: Goods collection → Refund or credit note; who may: any member of Logistics; "
        "must supply: Waybill" in markdown
    )
    assert (
        "- **Hold expired**: Stock held → Released; who may: the system, automatically; must supply: nothing"
        in markdown
    )
    assert "Target: 16 h; 4 h when customer_unreliable = true" in markdown


def test_russian_regulation_names_triggers_and_fields_by_their_labels(
    rendered: dict[str, dict[str, str]], company: Company
) -> None:
    """Issue #11 point 7: a Russian reader sees «Одобрить», «Заметки осмотра», never ``approve``."""
    returns = company.case_types["return"]
    approve = label_text(next(t for t in returns.transitions if t.trigger == "approve").label or "", "ru")
    notes = returns.field_label("inspection_notes", "ru")
    assert (approve, notes) == ("Одобрить", "Заметки осмотра")
    for fmt in ("html", "md"):
        section = rendered["ru"][fmt].split("Возврат товара", 1)[1].split("Замена товара", 1)[0]
        moves = [line for line in section.splitlines() if "Проверка товара → Вывоз товара" in line]
        assert moves and approve in moves[0] and notes in moves[0], moves
        assert "approve" not in re.sub(r'data-trigger="[a-z_]+"', "", moves[0])
        assert "inspection_notes" not in moves[0]
    diagram = rendered["ru"]["html"].split("Возврат товара", 1)[1].split("</svg>", 1)[0]
    assert f">{approve}<" in diagram and ">approve<" not in diagram
    assert f"inspection --> collection: {approve}" in rendered["ru"]["md"]
    assert "inspection --> collection: approve" in rendered["en"]["md"]  # English diagrams keep the API ids


def test_each_department_has_a_section_with_what_it_owes_and_what_it_is_owed(
    company: Company, rendered: dict[str, dict[str, str]]
) -> None:
    markdown = rendered["en"]["md"]
    for code in company.config.departments:
        assert f"(`{code}`)" in markdown
    warehouse = _section(markdown, "Warehouse")
    owes, owed = warehouse.split("#### What others owe Warehouse")
    assert "- Product return: Goods inspection — 8 h, for Sales" in owes
    assert "- duty “Stock on hand” — by 09:00 (Europe/Moscow), for Sales" in owes
    assert "- nothing" in owed
    sales = _section(markdown, "Sales")
    owed_to_sales = sales.split("#### What others owe Sales")[1]
    assert "- Product return: Goods collection — 16 h; 4 h when customer_unreliable = true, owed by Logistics" in (
        owed_to_sales
    )
    for label in ("Yesterday's customer payments", "Weekly supply forecast", "Stock on hand"):
        assert f"duty “{label}”" in owed_to_sales
    assert "- duty “Yesterday's deliveries confirmed” — by 11:00 (Asia/Yekaterinburg), owed by Logistics" in (
        owed_to_sales
    )
    assert "Waiting for the customer" not in sales.split("#### What others owe Sales")[0]  # paused: owed to nobody


def test_it_describes_each_duty_schedule_deadline_and_how_it_is_met(rendered: dict[str, dict[str, str]]) -> None:
    forecast = _section(rendered["en"]["md"], "Weekly supply forecast")
    assert "- Owed by: Purchasing — buyer (Artem Egorov); to: Sales" in forecast
    assert "- When: cron `0 9 * * 1` in Europe/Moscow, skipped on days off of msk_office" in forecast
    assert "- Deadline: by 12:00, Europe/Moscow time" in forecast
    assert "- Met by: the action “Deliver” (CLI, API or webhook), with: link" in forecast
    assert "- May be waived by: Maria Kuznetsova, head of Sales, giving a reason" in forecast
    assert "- Who is told: Maria Kuznetsova, Igor Fedorov" in forecast
    payments = _section(rendered["ru"]["md"], "Оплаты клиентов за вчера")
    assert "- Когда: каждый рабочий день календаря msk_office (Europe/Moscow), в начале рабочего дня" in payments
    assert "- Кого уведомляют: Мария Кузнецова, Иван Иванов, Анна Петрова" in payments


def test_the_document_follows_the_configuration(company: Company) -> None:
    """No hand-maintained copy: change a target, a head's name, office hours and a duty's
    deadline in a copy of the config, and the rendered text changes with them."""
    before = render_regulation(company, "ru", duties=_duties())["md"]
    raw = copy.deepcopy(RAW)
    raw["case_types"]["price_approval"]["states"]["margin_check"]["target"] = "5h30m"
    raw["people"]["kuznetsova"]["name"] = {"ru": "Мария Соколова", "en": "Maria Sokolova"}
    raw["calendars"]["msk_office"]["weekly_hours"]["fri"] = [["09:00", "16:45"]]
    raw_duties = copy.deepcopy(RAW_DUTIES)
    raw_duties[0]["deadline"] = {"at": "10:30"}
    changed = company_from_mapping(raw, source="changed.yaml")
    after = render_regulation(changed, "ru", duties=_duties(raw_duties))["md"]

    assert "Согласование спеццены: Проверка маржи — 4 ч, выполняет «Бухгалтерия»" in before
    assert "Согласование спеццены: Проверка маржи — 5 ч 30 мин, выполняет «Бухгалтерия»" in after
    assert "Мария Кузнецова" in before and "Мария Кузнецова" not in after
    assert "Мария Соколова" in after
    assert "пн–пт 09:00–13:00, 14:00–18:00" in before
    assert "пн–чт 09:00–13:00, 14:00–18:00; пт 09:00–16:45" in after
    assert "обязанность «Оплаты клиентов за вчера» — до 10:30 (Europe/Moscow)" in after
    assert render_regulation(company, "ru", duties=_duties())["md"] == before  # deterministic


def test_the_escalation_chain_climbs_the_org_chart_to_the_director(company: Company) -> None:
    assert escalation_chain(company, "sales") == ["kuznetsova", "orlov"]
    assert escalation_chain(company, "commercial") == ["orlov"]
    raw = copy.deepcopy(RAW)
    raw["company"]["director"] = "belova"
    del raw["people"]["smirnov"]["manager"]
    other = company_from_mapping(raw)
    assert escalation_chain(other, "sales") == ["kuznetsova", "orlov", "belova"]
    assert escalation_chain(other, "warehouse") == ["smirnov", "belova"]  # a head without a manager


def test_html_escapes_configured_text_exactly_once(company: Company) -> None:
    raw = copy.deepcopy(RAW)
    raw["company"]["name"] = {"en": "Sever & Sons <Trading>"}
    raw["departments"]["sales"]["name"] = {"en": "Sales & Key Accounts"}
    rendered = render_regulation(company_from_mapping(raw), "en", duties=_duties())
    assert "Sever &amp; Sons &lt;Trading&gt;" in rendered["html"]
    assert "Requested by <strong>Sales &amp; Key Accounts</strong>" in rendered["html"]
    assert "any member of Sales &amp; Key Accounts" in rendered["html"]
    assert "&amp;amp;" not in rendered["html"] and "<Trading>" not in rendered["html"]
    assert "Sever & Sons <Trading>" in rendered["md"]


def test_every_locale_translates_the_same_fixed_texts() -> None:
    def keys(tree: dict[str, Any], prefix: str = "") -> set[str]:
        found: set[str] = set()
        for key, value in tree.items():
            found |= keys(value, f"{prefix}{key}.") if isinstance(value, dict) else {prefix + key}
        return found

    english = keys(texts("en"))
    for locale in LOCALES:
        assert keys(texts(locale)) == english, locale


def test_it_writes_markdown_and_html_in_the_companys_locale_by_default(company: Company, tmp_path: Path) -> None:
    paths = write_regulation(company, tmp_path / "out")
    assert [path.name for path in paths] == ["regulation.ru.md", "regulation.ru.html"]
    assert paths[0].read_text(encoding="utf-8").startswith("# Регламент взаимодействия подразделений")
    assert paths[1].read_text(encoding="utf-8").startswith("<!DOCTYPE html>")
    with pytest.raises(SlaflowError, match="ru, en, pl"):
        write_regulation(company, tmp_path, "de")


def test_the_regulation_command_writes_the_documents(tmp_path: Path) -> None:
    app = Typer()
    app.command()(regulation)
    result = CliRunner().invoke(
        app, ["--out", str(tmp_path), "--locale", "pl", "--config", str(EXAMPLE_COMPANY)], catch_exceptions=False
    )
    assert result.exit_code == 0, result.output
    assert "regulation.pl.md" in result.output
    assert (tmp_path / "regulation.pl.html").read_text(encoding="utf-8").count("<section") > 10


def test_a_configured_escalation_chain_is_what_the_regulation_states(company: Company) -> None:
    raw = example_mapping()
    margin = raw["case_types"]["price_approval"]["states"]["margin_check"]
    margin["escalation"] = {"levels": [{"after": "2h", "notify": ["person:orlov"], "reassign_to": "head"}]}
    before = render_regulation(company, "en", duties=_duties())["md"]
    after = render_regulation(company_from_mapping(raw), "en", duties=_duties())["md"]
    line = "Escalation if missed: +2 h after the deadline: Andrey Orlov, hand the step to Olga Novikova"
    assert line not in before and line in after
    assert "+4 h after the deadline: Sergey Smirnov; +8 h after the deadline: Andrey Orlov" in after  # the default
