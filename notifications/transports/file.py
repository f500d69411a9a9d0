"""Writes each message to ``<dir>/<person>/``: the demo's "what each person would receive".

E-mails become ``.eml`` files (open them in any mail client), chat texts ``.txt``, webhook
bodies ``.json``. The file name carries the message id, so a retried message overwrites its own
file instead of duplicating it; a temporary file plus rename keeps readers from seeing halves.
"""

from __future__ import annotations

import json
import os
from pathlib import Path
from typing import TYPE_CHECKING

from notifications.transports.base import Outgoing, Transport, TransportError
from notifications.transports.smtp import build_email

if TYPE_CHECKING:
    from org.chart import PersonConfig


class FileTransport(Transport):
    kind = "file"
    format = "email"

    @classmethod
    def address(cls, person_id: str, person: PersonConfig) -> str | None:
        return person.email or person_id

    def send(self, message: Outgoing) -> None:
        folder = self.settings.notify_file_dir or self.config.file_outbox_dir
        if folder is None:
            raise TransportError("no folder: set notifications.file_outbox_dir or SLAFLOW_NOTIFY_FILE_DIR",
                                 permanent=True)
        stem = f"{message.message_id:06d}-{message.kind}-{message.channel}"
        if message.payload and not message.subject:
            name, data = f"{stem}.json", json.dumps(message.payload, ensure_ascii=False, indent=2).encode()
        elif message.subject:
            name, data = f"{stem}.eml", build_email(self.settings, message, cte="8bit").as_bytes()
        else:
            name, data = f"{stem}.txt", message.text.encode()
        target = Path(folder) / message.recipient / name
        try:
            target.parent.mkdir(parents=True, exist_ok=True)
            temporary = target.with_suffix(target.suffix + ".tmp")
            temporary.write_bytes(data)
            os.replace(temporary, target)
        except OSError as exc:
            raise TransportError(f"cannot write {target}: {exc.strerror or exc}", permanent=False) from None
