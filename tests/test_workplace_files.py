"""Attachments: a photo or document is checked by its content and size, stored under the data
folder before its ``attach`` event commits, listed on the case page, and downloadable only by
people who can read the case."""

from __future__ import annotations

import hashlib
import re
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from sqlalchemy import select

from api.app import create_app
from api.testing import TestClient, sign_in
from api.workplace.files import LocalFileStore, safe_name, sniff
from core.clock import SimulatedClock
from crm import samples
from runtime.assembly import Runtime
from runtime.settings import Settings
from storage.models import CaseEvent
from tests.workplace_support import WORKERS, company_with_people, open_return

PNG = b"\x89PNG\r\n\x1a\n" + bytes(range(256)) * 4


@pytest.fixture
def web(db_url: str, tmp_path: Path, clock: SimulatedClock) -> Iterator[tuple[TestClient, int, Path]]:
    config = company_with_people(db_url, tmp_path)
    case_id = open_return(db_url, config, clock.now())
    data = tmp_path / "data"
    served = Runtime(Settings(database_url=db_url, config=config, data_dir=data, attachment_max_bytes=4096))
    try:
        with TestClient(create_app(served, clock, environ=samples.SAMPLE_ENV)) as client:
            yield client, case_id, data
    finally:
        served.engine.dispose()


def as_person(client: TestClient, person: str) -> str:
    client.cookies.clear()
    assert sign_in(client, person, password=WORKERS[person]).status_code == 303
    found = re.search(r'name="csrf" value="([^"]+)"', client.get("/dashboard/queue").text)
    assert found
    return found.group(1)


def upload(client: TestClient, case_id: int, csrf: str, name: str, body: bytes) -> Any:
    return client.post(f"/dashboard/upload/{case_id}?lang=en", data={"csrf": csrf}, files={"file": (name, body)},
                       headers={"Origin": str(client.base_url)}, follow_redirects=False)


def test_a_photo_is_stored_under_the_data_folder_and_listed_and_served_to_readers_only(
    web: tuple[TestClient, int, Path]
) -> None:
    client, case_id, data = web
    csrf = as_person(client, "popov")
    answer = upload(client, case_id, csrf, "../../defect photo.png", PNG)
    assert answer.status_code == 303
    sha = hashlib.sha256(PNG).hexdigest()
    assert (data / "attachments" / str(case_id) / sha).read_bytes() == PNG
    with client.app.state.slaflow.sessions() as session:  # type: ignore[attr-defined]
        event = session.scalars(select(CaseEvent).where(CaseEvent.trigger == "attach")).one()
        assert (event.actor, event.payload) == ("popov", {"name": "defect photo.png", "type": "image/png",
                                                          "size": len(PNG), "sha256": sha})
    page = client.get(f"/dashboard/cases/{case_id}?lang=en")
    assert f"/dashboard/cases/{case_id}/files/{sha}" in page.text and "defect photo.png" in page.text
    got = client.get(f"/dashboard/cases/{case_id}/files/{sha}")
    assert got.content == PNG and got.headers["content-type"] == "image/png"
    assert got.headers["x-content-type-options"] == "nosniff" and "attachment" in got.headers["content-disposition"]
    as_person(client, "morozova")
    assert client.get(f"/dashboard/cases/{case_id}/files/{sha}").status_code == 404


def test_unsupported_oversized_or_forged_uploads_are_refused_and_store_nothing(
    web: tuple[TestClient, int, Path]
) -> None:
    client, case_id, data = web
    csrf = as_person(client, "popov")
    html = upload(client, case_id, csrf, "photo.png", b"<html><script>alert(1)</script></html>")
    assert html.status_code == 422 and "only JPEG, PNG, PDF, text files may be attached" in html.text
    big = upload(client, case_id, csrf, "big.png", PNG * 5)
    assert big.status_code == 422 and "the limit is 4096 bytes" in big.text
    assert upload(client, case_id, "forged-token-value", "a.png", PNG).status_code == 403
    morozova = as_person(client, "morozova")
    assert upload(client, case_id, morozova, "a.png", PNG).status_code == 404
    assert not (data / "attachments").exists()
    with client.app.state.slaflow.sessions() as session:  # type: ignore[attr-defined]
        assert session.scalars(select(CaseEvent).where(CaseEvent.trigger == "attach")).first() is None


def test_content_sniffing_and_names(tmp_path: Path) -> None:
    assert [sniff(b) for b in (b"\xff\xd8\xff\xe0x", PNG, b"%PDF-1.7", "накладная 12".encode(), b"\x00\x01",
                                b"  <svg onload=x>", b"MZ\x90\x00")] == [
        "image/jpeg", "image/png", "application/pdf", "text/plain", None, None, None]
    assert safe_name("C:\\temp\\a\x07b.pdf") == "a_b.pdf" and safe_name("") == "file"
    store = LocalFileStore(tmp_path, 100)
    first = store.save(7, "a.txt", b"same text")
    assert store.save(7, "b.txt", b"same text")["sha256"] == first["sha256"]
    assert [p.name for p in (tmp_path / "attachments" / "7").iterdir()] == [first["sha256"]]
