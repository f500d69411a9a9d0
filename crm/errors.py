"""Why a webhook request is refused. These map to HTTP answers; they are not engine errors."""

from __future__ import annotations


class WebhookRejected(Exception):
    """The request is refused; ``status`` is the HTTP status to answer."""

    status = 400


class AuthFailed(WebhookRejected):
    """Signature, token or credentials missing, wrong or stale. The message never holds a secret."""

    status = 401


class MalformedWebhook(WebhookRejected):
    """The body cannot be read as this CRM's webhook; the message names what is wrong."""

    status = 400


class InvalidWebhook(MalformedWebhook):
    """The body is well-formed but misses or mistypes fields (answered 422)."""

    status = 422
