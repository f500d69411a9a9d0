"""Attachments in an S3-compatible store: the same upload and download as under the data folder,
against a real local S3 HTTP server (moto's standalone server, which answers the S3 REST API as
AWS documents it — a fake of an outside service, like the CRM and Telegram fakes). The object is
stored before the ``attach`` event commits; the same file twice is one object; only readers of the
case get it; a store that is down or a bucket that is missing is a clear 503 and records nothing."""

from __future__ import annotations

import hashlib
import logging
import socket
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import boto3
import pytest
from moto.server import ThreadedMotoServer
from sqlalchemy import select

from api.app import create_app
from api.testing import TestClient
from api.workplace.web import file_store
from core.clock import SimulatedClock
from core.errors import ConfigError
from crm import samples
from runtime.assembly import Runtime
from runtime.settings import Settings
from storage.models import CaseEvent
from tests.test_workplace_files import PNG, as_person, upload
from tests.workplace_support import company_with_people, open_return

BUCKET = "slaflow-files"
KEYS = {"s3_access_key_id": "test-key", "s3_region": "us-east-1"}


def _free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return int(probe.getsockname()[1])


@pytest.fixture(scope="module")
def s3_url() -> Iterator[str]:
    server = ThreadedMotoServer(ip_address="127.0.0.1", port=_free_port(), verbose=False)
    server.start()
    host, port = server.get_host_and_port()
    try:
        yield f"http://{host}:{port}"
    finally:
        server.stop()


def _client(url: str) -> Any:
    return boto3.session.Session().client("s3", endpoint_url=url, region_name="us-east-1",
                                          aws_access_key_id="test-key", aws_secret_access_key="test-secret")


@pytest.fixture
def bucket(s3_url: str) -> Iterator[Any]:
    client = _client(s3_url)
    client.create_bucket(Bucket=BUCKET)
    try:
        yield client
    finally:
        for found in client.list_objects_v2(Bucket=BUCKET).get("Contents", []):
            client.delete_object(Bucket=BUCKET, Key=found["Key"])
        client.delete_bucket(Bucket=BUCKET)


def _settings(db_url: str, config: Path, tmp_path: Path, endpoint: str, bucket: str = BUCKET) -> Settings:
    return Settings(database_url=db_url, config=config, data_dir=tmp_path / "data", attachment_max_bytes=4096,
                    attachment_store="s3", s3_bucket=bucket, s3_prefix="prod/", s3_endpoint_url=endpoint,
                    s3_secret_access_key="test-secret", s3_timeout=2, **KEYS)  # type: ignore[arg-type]


@pytest.fixture
def served(db_url: str, tmp_path: Path, clock: SimulatedClock) -> tuple[str, Path, int]:
    config = company_with_people(db_url, tmp_path)
    return db_url, config, open_return(db_url, config, clock.now())


def _app(settings: Settings, clock: SimulatedClock) -> tuple[Runtime, TestClient]:
    runtime = Runtime(settings)
    return runtime, TestClient(create_app(runtime, clock, environ=samples.SAMPLE_ENV))


def _attached(client: TestClient) -> list[dict[str, Any]]:
    with client.app.state.slaflow.sessions() as session:  # type: ignore[attr-defined]
        return [e.payload for e in session.scalars(select(CaseEvent).where(CaseEvent.trigger == "attach"))]


def test_an_upload_goes_to_the_bucket_once_and_streams_back_to_readers_only(
    served: tuple[str, Path, int], bucket: Any, s3_url: str, tmp_path: Path, clock: SimulatedClock
) -> None:
    db_url, config, case_id = served
    runtime, app = _app(_settings(db_url, config, tmp_path, s3_url), clock)
    try:
        with app as client:
            csrf = as_person(client, "popov")
            sha = hashlib.sha256(PNG).hexdigest()
            for name in ("defect photo.png", "again.png"):
                assert upload(client, case_id, csrf, name, PNG).status_code == 303
            keys = [o["Key"] for o in bucket.list_objects_v2(Bucket=BUCKET)["Contents"]]
            assert keys == [f"prod/attachments/{case_id}/{sha}"]
            stored = bucket.get_object(Bucket=BUCKET, Key=keys[0])
            assert stored["Body"].read() == PNG and stored["ContentType"] == "image/png"
            assert [p["name"] for p in _attached(client)] == ["defect photo.png", "again.png"]
            assert not (tmp_path / "data").exists()

            got = client.get(f"/dashboard/cases/{case_id}/files/{sha}")
            assert got.status_code == 200 and got.content == PNG
            assert got.headers["content-type"] == "image/png" and got.headers["x-content-type-options"] == "nosniff"
            assert got.headers["content-disposition"] == "attachment; filename*=utf-8''defect%20photo.png"
            assert client.get(f"/dashboard/cases/{case_id}/files/{'0' * 64}").status_code == 404

            html = upload(client, case_id, csrf, "photo.png", b"<html><script>alert(1)</script></html>")
            assert html.status_code == 422 and "only JPEG, PNG, PDF, text files may be attached" in html.text
            big = upload(client, case_id, csrf, "big.png", PNG * 5)
            assert big.status_code == 422 and "the limit is 4096 bytes" in big.text

            morozova = as_person(client, "morozova")  # accounting: cannot read the warehouse's return
            assert client.get(f"/dashboard/cases/{case_id}/files/{sha}").status_code == 404
            assert upload(client, case_id, morozova, "b.txt", b"other text").status_code == 404
            assert len(bucket.list_objects_v2(Bucket=BUCKET)["Contents"]) == 1
    finally:
        runtime.close()


@pytest.mark.parametrize("where", ["down", "no bucket"])
def test_a_store_that_is_down_or_a_missing_bucket_is_a_clear_503_and_records_nothing(
    where: str, served: tuple[str, Path, int], s3_url: str, tmp_path: Path, clock: SimulatedClock,
    caplog: pytest.LogCaptureFixture
) -> None:
    db_url, config, case_id = served
    endpoint = f"http://127.0.0.1:{_free_port()}" if where == "down" else s3_url
    runtime, app = _app(_settings(db_url, config, tmp_path, endpoint, bucket="no-such-bucket"), clock)
    try:
        with app as client, caplog.at_level(logging.ERROR, logger="api.workplace.attachments"):
            csrf = as_person(client, "popov")
            answer = upload(client, case_id, csrf, "a.png", PNG)
            assert answer.status_code == 503
            assert "the file store is not available right now; nothing was saved" in answer.text
            assert "Traceback" not in answer.text
            assert _attached(client) == []
            assert any("s3://no-such-bucket/prod/attachments/" in r.getMessage() for r in caplog.records)
    finally:
        runtime.close()


def test_configuration_mistakes_are_one_clear_message_at_start_up(tmp_path: Path) -> None:
    base = {"attachment_store": "s3", "data_dir": tmp_path}
    with pytest.raises(ConfigError, match="SLAFLOW_S3_BUCKET"):
        file_store(Settings(**base))  # type: ignore[arg-type]
    with pytest.raises(ConfigError, match="SLAFLOW_S3_ENDPOINT_URL"):
        file_store(Settings(**base, s3_bucket="b", s3_endpoint_url="not a url"))  # type: ignore[arg-type]
    with pytest.raises(ConfigError, match="SLAFLOW_S3_SECRET_ACCESS_KEY_FILE: cannot read"):
        file_store(Settings(**base, s3_bucket="b", s3_access_key_id="k",  # type: ignore[arg-type]
                            s3_secret_access_key_file=tmp_path / "missing"))
    with pytest.raises(ConfigError, match="give both or neither"):
        file_store(Settings(**base, s3_bucket="b", s3_access_key_id="k"))  # type: ignore[arg-type]
    secret = tmp_path / "secret"
    secret.write_text("from-file\n")
    store = file_store(Settings(**base, s3_bucket="b", s3_access_key_id="k",  # type: ignore[arg-type]
                                s3_secret_access_key_file=secret))
    assert store.max_bytes == 10 * 1024 * 1024
