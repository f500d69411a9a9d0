"""Secrets out of log lines: amoCRM and Salesforce put a token in the webhook URL, and uvicorn's
access log writes the URL (``POST /webhooks/amocrm?token=...``). A logging filter blanks the
value of every query parameter that carries a secret, in the message and its arguments."""

from __future__ import annotations

import logging
import re

_SECRET_PARAM = re.compile(
    r"(?i)((?:^|[?&\s])(?:token|secret|password|passwd|api_key|apikey|api_token|access_token|refresh_token|"
    r"client_secret|auth(?:%5B|\[)[a-z_]*token(?:%5D|\]))=)[^&\s\"']*"
)
_BITRIX24_REST = re.compile(r"(/rest/\d+/)[^/\s\"']+/")
"""A Bitrix24 incoming webhook's code is part of its URL: ``/rest/1/<code>/crm.deal.get.json``."""
_LINK_TOKEN = re.compile(r"(/dashboard/(?:invite|ack)/)[^/\s\"'?]+")
"""One-time invitation and signed acknowledge links carry their token in the path."""
LOGGERS = ("uvicorn.access", "uvicorn.error", "uvicorn")
CLIENT_LOGGERS = ("httpx", "httpcore")
"""The HTTP client logs each request's URL at INFO (the CRM API calls of enrichment and write-back)."""


def redact(text: str) -> str:
    """``/webhooks/amocrm?token=abc&x=1`` -> ``/webhooks/amocrm?token=***&x=1``."""
    return _LINK_TOKEN.sub(r"\1***", _BITRIX24_REST.sub(r"\1***/", _SECRET_PARAM.sub(r"\1***", text)))


class RedactSecrets(logging.Filter):
    """Rewrites a record's message and string arguments; never drops a record."""

    def filter(self, record: logging.LogRecord) -> bool:
        if isinstance(record.msg, str):
            record.msg = redact(record.msg)
        if isinstance(record.args, tuple):
            record.args = tuple(redact(arg) if isinstance(arg, str) else redact(str(arg)) if _is_url(arg) else arg
                                for arg in record.args)
        elif isinstance(record.args, dict):
            record.args = {k: redact(v) if isinstance(v, str) else v for k, v in record.args.items()}
        return True


def _is_url(value: object) -> bool:
    return type(value).__name__ == "URL"  # httpx.URL, logged by httpx as an argument


def redact_access_log(names: tuple[str, ...] = LOGGERS) -> None:
    """Install the filter on uvicorn's loggers and their handlers (idempotent). Called when the
    app starts, after uvicorn has configured logging."""
    for name in names:
        logger = logging.getLogger(name)
        for target in (logger, *logger.handlers):
            if not any(isinstance(f, RedactSecrets) for f in target.filters):
                target.addFilter(RedactSecrets())
