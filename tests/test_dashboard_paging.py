"""The board at scale (bench/dashboard.py): its open-case list comes a page at a time out of the
`OPEN_LIMIT` nearest deadlines, its breached and warning figures still count all of those, and
the open-case count stops at `OPEN_COUNT_CAP` and says so ("1 000+"), on both databases."""

from __future__ import annotations

import re
from collections import Counter
from datetime import timedelta
from pathlib import Path

import pytest
from sqlalchemy import func, select
from sqlalchemy.orm import Session, sessionmaker

from api.dashboard import data
from api.dashboard.open_cases import nearest_statuses
from api.testing import serving, token_header, write_config
from core.clock import SimulatedClock
from crm import samples
from engine import cases
from org.actors import person_scope
from org.chart import Company
from org.scope import case_filter
from storage.models import Case


def _open_returns(sessions: sessionmaker[Session], company: Company, clock: SimulatedClock, n: int) -> list[int]:
    ids = []
    for k in range(n):
        with sessions.begin() as session:
            ids.append(
                cases.open_case(
                    session,
                    company,
                    case_type="return",
                    data={"customer": f"c{k}", "order": f"SO-{k}", "reason": "defect"},
                    actor=company.actor("ivanov"),
                    now=clock.now(),
                ).id
            )
        clock.advance(timedelta(hours=3))
    return ids


def test_the_open_count_is_exact_up_to_the_cap_and_capped_beyond_it(
    sessions: sessionmaker[Session], company: Company, clock: SimulatedClock, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Counted after the last case the list read, in the list's order: deadlines shared by two
    cases and cases without a deadline (last in the order) must neither be skipped nor counted twice,
    wherever the list ends."""
    ids = _open_returns(sessions, company, clock, 6)
    with sessions.begin() as session:
        first = session.get_one(Case, ids[0]).due_at
        for case_id, due in zip(ids, [first, first, None, first, None, None], strict=True):
            session.get_one(Case, case_id).due_at = due  # two ties, then three without a deadline
    with sessions() as session:
        for person in ("orlov", "kuznetsova", "morozova"):
            scope = person_scope(company, person)[1]
            readable = int(
                session.scalar(
                    select(func.count()).select_from(Case).where(Case.closed_at.is_(None), case_filter(scope, Case.id))
                )
                or 0
            )
            for limit in range(1, readable + 2):
                for cap in range(limit, readable + 3):
                    monkeypatch.setattr(data, "OPEN_LIMIT", limit)
                    monkeypatch.setattr(data, "OPEN_COUNT_CAP", cap)
                    read = nearest_statuses(session, company, clock.now(), reader=scope, limit=limit)
                    counted = data.open_count(session, scope, read)
                    assert counted == (min(readable, cap), readable > cap), (person, limit, cap)
            assert person != "orlov" or readable == len(ids)


def test_the_board_lists_one_page_and_counts_statuses_over_every_page(
    sessions: sessionmaker[Session], company: Company, clock: SimulatedClock, monkeypatch: pytest.MonkeyPatch
) -> None:
    ids = _open_returns(sessions, company, clock, 5)
    monkeypatch.setattr(data, "PAGE_SIZE", 2)
    monkeypatch.setattr(data, "OPEN_LIMIT", 4)
    monkeypatch.setattr(data, "OPEN_COUNT_CAP", 4)
    scope = person_scope(company, "orlov")[1]
    with sessions() as session:
        nearest = data.open_rows(session, company, clock.now(), reader=scope, limit=4)
        pages = [data.board(session, company, clock.now(), "week", reader=scope, page=n) for n in (1, 2, 3)]
    assert [row.case_id for row in nearest] == ids[:4]  # the oldest returns have the nearest deadlines
    assert {row.status for row in nearest} >= {"breached"}, "the data must show more than one status"
    listed = [sorted(row.case_id for dept in board.departments for row in dept.rows) for board in pages]
    assert listed == [ids[:2], ids[2:4], []]
    for board in pages:
        assert (board.read, board.pages, board.open_total, board.open_capped) == (4, 2, 4, True)
        assert board.statuses == Counter(row.status for row in nearest)  # the same figures on every page
        assert board.count("breached") == sum(row.status == "breached" for row in nearest)
    assert [board.first for board in pages] == [1, 3, 5]


def test_the_page_says_the_count_is_capped_and_links_the_other_pages(
    db_url: str, tmp_path: Path, clock: SimulatedClock, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(data, "PAGE_SIZE", 1)
    monkeypatch.setattr(data, "OPEN_LIMIT", 2)
    monkeypatch.setattr(data, "OPEN_COUNT_CAP", 2)
    with serving(db_url, write_config(tmp_path), clock, samples.SAMPLE_ENV) as client:
        director = token_header("orlov")
        for k in range(3):
            opened = client.post(
                "/api/cases",
                json={"type": "reservation", "data": {"customer": f"c{k}", "deal": f"D-{k}", "items": "1 pallet"}},
                headers=token_header("ivanov"),
            )
            assert opened.status_code == 201, opened.text
            clock.advance(timedelta(minutes=10))
        first = client.get("/dashboard?lang=en&period=week", headers=director).text
        second = client.get("/dashboard?lang=en&period=week&page=2", headers=director).text
        assert client.get("/dashboard?page=6", headers=director).status_code == 422
        assert client.get("/dashboard?page=0", headers=director).status_code == 422
    kpi = first.split('class="kpis"', 1)[1].split("</div>\n</div>", 1)[0]
    assert "<b>2+</b>" in kpi and "counted exactly up to 2" in kpi
    assert "Showing 1–1 of 2+ (nearest deadline first)." in first
    assert "The 2 nearest deadlines are listed, 1 a page" in first
    assert "Showing 2–2 of 2+" in second
    rows = [re.findall(r'data-case="(\d+)"', page) for page in (first, second)]
    assert len(rows[0]) == len(rows[1]) == 1 and rows[0] != rows[1]
    pager = first.split('class="periods pages"', 1)[1].split("</nav>", 1)[0]
    assert 'aria-label="Pages"' in pager and '<b aria-current="page">1</b>' in pager
    assert 'href="/dashboard?lang=en&amp;period=week&amp;page=2"' in pager and 'rel="next"' in pager
    assert 'aria-current="page">2</b>' in second.split('class="periods pages"', 1)[1]


def test_a_board_without_more_cases_than_a_page_shows_the_exact_count_and_no_pager(
    db_url: str, tmp_path: Path, clock: SimulatedClock
) -> None:
    with serving(db_url, write_config(tmp_path), clock, samples.SAMPLE_ENV) as client:
        opened = client.post(
            "/api/cases",
            json={"type": "reservation", "data": {"customer": "c", "deal": "D-1", "items": "1 pallet"}},
            headers=token_header("ivanov"),
        )
        assert opened.status_code == 201, opened.text
        board = client.get("/dashboard?lang=en", headers=token_header("orlov")).text
    assert "<b>1</b>" in board.split('class="kpis"', 1)[1] and "counted exactly" not in board
    assert 'class="periods pages"' not in board and "Showing" not in board
