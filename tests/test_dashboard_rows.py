"""The board's and the queue's rows are written by functions (`api.dashboard.text.board_row`,
`queue_row`) for speed: they must write what the templates' inline rows wrote, byte for byte,
for every branch (a person or none; mine, someone's or free; order and CRM key or none) and
escape what people typed."""

from __future__ import annotations

from datetime import UTC, datetime
from urllib.parse import urlencode

import pytest
from jinja2 import Environment, StrictUndefined

from api.dashboard.data import OpenRow
from api.dashboard.text import DashboardLabels, badge, board_row, case_link, queue_row
from api.workplace.queue_data import QueueRow
from engine.clock_view import StepStatus
from org.chart import Company

BOARD_ROW = """\
        {% for row in rows %}
          <tr class="row-{{ row.status }}" data-case="{{ row.case_id }}">
            <td>{{ case_link(t, link, row.case_id) }}<div class="sub">{{ t.case_type(row.case_type) }}</div></td>
            <td>{{ t.state(row.case_type, row.state) }}{% if row.person %}<div class="sub">{{ t.person(row.person) }}</div>{% endif %}</td>
            <td>{{ t.moment(row.deadline_at) }}</td>
            <td class="num">{{ t.remaining(row.business_left) }}</td>
            <td>{{ badge(t, row.status) }}</td>
          </tr>
        {% endfor %}
"""  # noqa: E501 (the template's rows as they were before 2026-11-30)
QUEUE_ROW = """\
  {% for item in rows %}
    {% set row = item.row %}
    <tr class="row-{{ row.status }}" data-case="{{ row.case_id }}">
      <td>{{ case_link(t, link, row.case_id) }}<div class="sub">{{ t.case_type(row.case_type) }}</div></td>
      <td>{{ t.state(row.case_type, row.state) }}<div class="sub">{% if item.mine %}{{ t("queue_mine") }}{% elif row.person %}{{ t.person(row.person) }}{% else %}{{ t("queue_free") }} · {{ t.department(row.department) }}{% endif %}</div></td>
      <td>{{ item.customer or "" }}{% if item.order %}<div class="sub">{{ item.order }}</div>{% endif %}{% if item.external_key %}<div class="sub"><code>{{ item.external_key }}</code></div>{% endif %}</td>
      <td>{{ t.moment(row.deadline_at) }}</td>
      <td class="num">{{ t.remaining(row.business_left) }}</td>
      <td>{{ badge(t, row.status) }}</td>
    </tr>
  {% endfor %}
"""  # noqa: E501
NEW_BOARD = "        {% for row in rows %}\n{{ board_row(t, link, row) }}\n        {% endfor %}\n"
NEW_QUEUE = "  {% for item in rows %}\n{{ queue_row(t, link, item) }}\n  {% endfor %}\n"


def _render(source: str, **context: object) -> str:
    env = Environment(autoescape=True, undefined=StrictUndefined, trim_blocks=True, lstrip_blocks=True)
    env.globals.update(badge=badge, case_link=case_link, board_row=board_row, queue_row=queue_row)
    return env.from_string(source).render(**context)


def _rows() -> list[OpenRow]:
    deadline = datetime(2026, 11, 20, 9, 30, tzinfo=UTC)
    return [
        OpenRow(7, "return", "inspection", "warehouse", "smirnov", deadline, deadline, StepStatus.BREACHED, -95.5),
        OpenRow(8, "return", "awaiting_customer", "sales", None, deadline, None, StepStatus.PAUSED, None),
        OpenRow(9, "no_such_type", "<b>state</b>", None, "<i>someone</i>", deadline, deadline, StepStatus.OK, 600.0),
    ]


@pytest.mark.parametrize("locale", ["ru", "en", "pl"])
def test_the_row_functions_write_what_the_templates_wrote(company: Company, locale: str) -> None:
    t = DashboardLabels(company, locale, company.zone)

    def link(path: str, **params: str) -> str:
        return f"{path}?{urlencode({**params, 'lang': locale})}"

    rows = _rows()
    items = [
        QueueRow(rows[0], mine=True, customer="ACME <Trading>", order='SO-1 "rush"', external_key="amo:1&2"),
        QueueRow(rows[1], mine=False, customer=None, order=None, external_key=None),
        QueueRow(rows[2], mine=False, customer="", order="SO-3", external_key=None),
        QueueRow(rows[0], mine=False, customer="c", order=None, external_key="k"),
    ]
    board = _render(NEW_BOARD, t=t, link=link, rows=rows)
    assert board == _render(BOARD_ROW, t=t, link=link, rows=rows)
    assert _render(NEW_QUEUE, t=t, link=link, rows=items) == _render(QUEUE_ROW, t=t, link=link, rows=items)
    assert "&lt;b&gt;state&lt;/b&gt;" in board and "<i>" not in board
