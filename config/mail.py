"""A local outbox: one RFC 5322 `.eml` file per message, for runs without an ESP."""

from __future__ import annotations

import uuid
from collections.abc import Sequence
from pathlib import Path
from typing import Any

from django.conf import settings
from django.core.mail import EmailMessage
from django.core.mail.backends.base import BaseEmailBackend
from django.utils import timezone


class OutboxEmailBackend(BaseEmailBackend):
    """Writes each message to OUTBOX_DIR as `<timestamp>-<uuid>.eml`, readable by any mail client."""

    def __init__(self, *, outbox_dir: str | Path | None = None, **kwargs: Any) -> None:
        super().__init__(**kwargs)
        self.outbox_dir = Path(outbox_dir or settings.OUTBOX_DIR)

    def send_messages(self, email_messages: Sequence[EmailMessage]) -> int:
        self.outbox_dir.mkdir(parents=True, exist_ok=True)
        written = 0
        for message in email_messages:
            if not message.recipients():
                continue
            name = f"{timezone.now():%Y%m%dT%H%M%S%f}-{uuid.uuid4().hex}.eml"
            (self.outbox_dir / name).write_bytes(message.message().as_bytes())
            written += 1
        return written
