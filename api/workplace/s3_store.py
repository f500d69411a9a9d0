"""Attachments in an S3-compatible object store (AWS S3, MinIO, Yandex Object Storage, Ceph),
through boto3. Keys are ``<prefix>attachments/<case>/<sha256>``, so the same file twice is one
object. ``save`` returns only after ``put_object`` returned (the store acknowledged the bytes);
the upload route commits the ``attach`` event after that, so nothing acknowledged is lost. If the
commit fails after the put, the object is an orphan, and harmless: it is named by its content,
nothing links to it, and a retried upload finds it.

Downloads are streamed through the app after the read-scope check, never by a presigned URL:
the person's browser needs no route to the store, and no link outlives the check.

A store that is down, a missing bucket or refused credentials is `StoreUnavailable`: the person
sees a clear 503, the operator a log line with the store's own words."""

from __future__ import annotations

import base64
import hashlib
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import boto3
from botocore.config import Config
from botocore.exceptions import BotoCoreError, ClientError

from api.workplace.files import CHUNK, StoreUnavailable, checked, object_name
from core.errors import ConfigError
from runtime.settings import Settings

UNAVAILABLE = "the file store is not available right now; nothing was saved, please try again later"
_MISSING = {"404", "NoSuchKey", "NotFound"}


@dataclass(frozen=True)
class S3FileStore:
    client: Any
    """A boto3 S3 client (untyped library)."""
    bucket: str
    prefix: str
    max_bytes: int

    @classmethod
    def configured(cls, settings: Settings) -> S3FileStore:
        """Credentials from ``SLAFLOW_S3_ACCESS_KEY_ID`` / ``SLAFLOW_S3_SECRET_ACCESS_KEY`` or their
        ``_FILE`` twins, else boto3's own chain (``AWS_*`` variables, an instance role). No network
        here: an unreachable store shows on first use."""
        assert settings.s3_bucket
        key_id = _secret("s3_access_key_id", settings.s3_access_key_id, settings.s3_access_key_id_file)
        secret_value = settings.s3_secret_access_key.get_secret_value() if settings.s3_secret_access_key else None
        secret = _secret("s3_secret_access_key", secret_value, settings.s3_secret_access_key_file)
        if (key_id is None) != (secret is None):
            raise ConfigError("SLAFLOW_S3_ACCESS_KEY_ID and SLAFLOW_S3_SECRET_ACCESS_KEY go together: "
                              "give both or neither")
        # Checksums only where the API requires them: botocore's newer default (CRC32 trailers on
        # every put) is refused by several S3-compatible stores; the put carries Content-MD5 instead.
        config = Config(connect_timeout=settings.s3_timeout, read_timeout=settings.s3_timeout,
                        retries={"max_attempts": 2, "mode": "standard"},
                        request_checksum_calculation="when_required", response_checksum_validation="when_required")
        try:
            client = boto3.session.Session().client(
                "s3", endpoint_url=settings.s3_endpoint_url or None, region_name=settings.s3_region or None,
                aws_access_key_id=key_id, aws_secret_access_key=secret, config=config)
        except (ValueError, BotoCoreError) as exc:
            raise ConfigError(f"SLAFLOW_S3_ENDPOINT_URL / SLAFLOW_S3_REGION: {exc}") from None
        return cls(client, settings.s3_bucket, settings.s3_prefix, settings.attachment_max_bytes)

    def key(self, case_id: int, sha256: str) -> str:
        return self.prefix + object_name(case_id, sha256)

    def save(self, case_id: int, name: str, data: bytes) -> dict[str, Any]:
        payload = checked(name, data, self.max_bytes)
        key = self.key(case_id, payload["sha256"])
        try:
            if not self._exists(key):
                digest = base64.b64encode(hashlib.md5(data, usedforsecurity=False).digest()).decode()
                self.client.put_object(Bucket=self.bucket, Key=key, Body=data, ContentType=payload["type"],
                                       ContentMD5=digest)  # the store refuses bytes that differ
        except (BotoCoreError, ClientError) as exc:
            raise self._unavailable("put", key, exc) from None
        return payload

    def open(self, case_id: int, sha256: str) -> Iterator[bytes] | None:
        key = self.key(case_id, sha256)
        try:
            found = self.client.get_object(Bucket=self.bucket, Key=key)
        except ClientError as exc:
            if exc.response.get("Error", {}).get("Code") in _MISSING:
                return None
            raise self._unavailable("get", key, exc) from None
        except BotoCoreError as exc:
            raise self._unavailable("get", key, exc) from None
        return _pieces(found["Body"])

    def _exists(self, key: str) -> bool:
        try:
            self.client.head_object(Bucket=self.bucket, Key=key)
        except ClientError as exc:
            if exc.response.get("Error", {}).get("Code") in _MISSING:
                return False
            raise
        return True

    def _unavailable(self, action: str, key: str, exc: Exception) -> StoreUnavailable:
        return StoreUnavailable(UNAVAILABLE, f"S3 {action} s3://{self.bucket}/{key} failed: {exc}")


def _pieces(body: Any) -> Iterator[bytes]:
    with body:
        yield from body.iter_chunks(CHUNK)


def _secret(name: str, value: str | None, file: Path | None) -> str | None:
    """The file wins over the plain variable (a mounted secret is not shadowed by a leaked default)."""
    if file is None:
        return value or None
    try:
        found = file.read_text(encoding="utf-8").strip()
    except OSError as exc:
        raise ConfigError(f"SLAFLOW_{name.upper()}_FILE: cannot read {file}: {exc.strerror or exc}") from None
    if not found:
        raise ConfigError(f"SLAFLOW_{name.upper()}_FILE: {file} is empty")
    return found
