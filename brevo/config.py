"""The one place that reads the Brevo settings (declared in config/settings/base.py)."""

from __future__ import annotations

from django.conf import settings


def brevo_configured() -> bool:
    """True when BREVO_API_KEY is set: mail goes through Anymail's Brevo backend (the settings
    choose EMAIL_BACKEND from the same key) and segments are mirrored to Brevo lists."""
    return bool(settings.BREVO_API_KEY)


def configured_folder_id() -> int | None:
    """BREVO_FOLDER_ID, when the operator chose the folder segment lists go to."""
    folder_id = settings.BREVO_FOLDER_ID
    return int(folder_id) if folder_id else None
