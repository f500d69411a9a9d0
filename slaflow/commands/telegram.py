"""``slaflow telegram ...``: link a person's Telegram account (``org.telegram_links``) and tell
Telegram where the bot's webhook is. Registered by slaflow/cli.py."""

from __future__ import annotations

from pathlib import Path
from typing import Annotated

import typer
from rich.console import Console

from core.clock import SystemClock
from slaflow.cli_support import open_runtime as _runtime

telegram_app = typer.Typer(help="The Telegram bot: link people's accounts, set its webhook.", no_args_is_help=True)
console = Console(soft_wrap=True)

DbOption = Annotated[str | None, typer.Option("--database-url", envvar="SLAFLOW_DATABASE_URL", help="SQLAlchemy URL")]
ConfigOption = Annotated[Path | None, typer.Option("--config", envvar="SLAFLOW_CONFIG", help="company YAML")]
PersonArg = Annotated[str, typer.Argument(help="person id from the company config (people:)")]


@telegram_app.command("link")
def link(
    person: PersonArg,
    bot: Annotated[str | None, typer.Option(envvar="SLAFLOW_TELEGRAM_BOT_NAME",
                                            help="the bot's username, for a t.me deep link")] = None,
    database_url: DbOption = None,
    config: ConfigOption = None,
) -> None:
    """Print a one-time code PERSON sends to the bot as ``/start CODE`` (earlier codes stop working)."""
    from org.telegram_links import CODE_MINUTES, new_code

    with _runtime(database_url, config) as runtime, runtime.sessions.begin() as session:
        code = new_code(session, runtime.company, person, now=SystemClock().now())
    console.print(f"/start {code}", highlight=False)
    if bot:
        console.print(f"https://t.me/{bot.lstrip('@')}?start={code}", highlight=False)
    console.print(f"(valid for {CODE_MINUTES} min, once; send it to {person} only)", style="dim", highlight=False)


@telegram_app.command("unlink")
def unlink(person: PersonArg, database_url: DbOption = None, config: ConfigOption = None) -> None:
    """Forget PERSON's linked Telegram account (messages go to chat.telegram of the file, if any)."""
    from org.telegram_links import unlink as forget

    with _runtime(database_url, config) as runtime, runtime.sessions.begin() as session:
        found = forget(session, person)
    console.print(f"{person}: " + ("unlinked" if found else "had no linked Telegram account"), highlight=False)


@telegram_app.command("set-webhook")
def set_webhook(
    url: Annotated[str, typer.Argument(help="public URL of the app's /telegram/webhook")],
) -> None:
    """Tell Telegram to deliver updates to URL with SLAFLOW_TELEGRAM_WEBHOOK_SECRET as its secret token."""
    from notifications.settings import load_notification_settings
    from notifications.telegram_bot import TelegramBot

    settings = load_notification_settings()
    secret = settings.telegram_webhook_secret
    if secret is None:
        raise typer.BadParameter("SLAFLOW_TELEGRAM_WEBHOOK_SECRET is not set")
    from notifications.transports.base import TransportError

    try:
        TelegramBot(settings).run(lambda b: b.set_webhook(url, secret_token=secret.get_secret_value(),
                                                          allowed_updates=["message", "callback_query"]),
                                  what="setWebhook")
    except TransportError as exc:
        console.print(f"[red]{exc}[/red]", highlight=False)
        raise typer.Exit(1) from None
    console.print(f"webhook set: {url}", highlight=False)
