"""Which API client serves a (source, account): built from the company config and the secrets in
the environment, once per process, and shared by processing (enrichment) and the outbox
(write-back)."""

from __future__ import annotations

import os
import threading
import time
from collections.abc import Mapping
from typing import TYPE_CHECKING

import httpx
from sqlalchemy.orm import Session, sessionmaker

from core.secret_ref import SecretError
from crm.api.http import CrmApiError, CrmHttp, Sleep
from crm.api.tokens import TokenStore
from crm.api.vendors import VENDORS, VendorApi
from crm.config import crm_config
from crm.redaction import CLIENT_LOGGERS, redact_access_log
from crm.sources import SourceConfig

if TYPE_CHECKING:
    from org.chart import Company


class ApiRegistry:
    """``get(source, account)`` -> the vendor client, or None when that account has no ``api``."""

    def __init__(self, company: Company, environ: Mapping[str, str] | None = None, *, sleep: Sleep = time.sleep,
                 transport: httpx.BaseTransport | None = None, retries: bool = True,
                 budget_seconds: float | None = None, sessions: sessionmaker[Session] | None = None) -> None:
        self.company, self.environ = company, os.environ if environ is None else environ
        self.sleep, self.transport, self.retries = sleep, transport, retries
        self.budget_seconds = budget_seconds
        self.tokens = TokenStore(sessions)
        redact_access_log(CLIENT_LOGGERS)  # the client logs URLs, and a Bitrix24 webhook code is in its URL
        self._clients: dict[tuple[str, str], VendorApi] = {}
        self._lock = threading.Lock()

    def get(self, source: str, account: str | None) -> VendorApi | None:
        config = getattr(crm_config(self.company).sources, source, None)
        vendor = VENDORS.get(source)
        if not isinstance(config, SourceConfig) or vendor is None:
            return None
        name = account or "default"
        configured = config.account(name)
        access = configured.api if configured is not None else None
        if access is None:
            return None
        with self._lock:
            client = self._clients.get((source, name))
            if client is None:
                try:
                    token = access.token.resolve(self.environ)
                    client_secret = access.client_secret.resolve(self.environ) if access.client_secret else None
                except SecretError as exc:
                    raise CrmApiError(f"{source} API of account {name}: {exc}", permanent=True) from None
                if not self.retries:  # the caller (the outbox) retries, honouring Retry-After up to an hour
                    access = access.model_copy(update={"max_retries": 0, "max_wait_seconds": 3600.0})
                http = CrmHttp(access, token, what=source, sleep=self.sleep, transport=self.transport,
                               client_secret=client_secret, budget_seconds=self.budget_seconds)
                client = self._clients[(source, name)] = vendor(http, self.tokens, source, name)
            return client

    def close(self) -> None:
        with self._lock:
            for client in self._clients.values():
                client.http.close()
            self._clients.clear()
