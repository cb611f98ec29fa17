"""Signed unsubscribe links: the token names the user and the campaign and cannot be forged.

The token is a Django `signing` value (HMAC with SECRET_KEY and a salt of its own), so the
unsubscribe page never looks anything up by a guessable id.
"""

from __future__ import annotations

from dataclasses import dataclass

from django.conf import settings
from django.core import signing
from django.urls import reverse

_SALT = "campaigns.unsubscribe"
# Long enough for a message found at the bottom of an inbox; RFC 8058 asks the link to keep working.
TOKEN_MAX_AGE_SECONDS = 365 * 24 * 3600


@dataclass(frozen=True)
class UnsubscribeClaim:
    user_id: int
    campaign_id: int | None


def unsubscribe_token(*, user_id: int, campaign_id: int | None) -> str:
    return signing.dumps({"u": user_id, "c": campaign_id}, salt=_SALT, compress=True)


def unsubscribe_url(*, user_id: int, campaign_id: int | None) -> str:
    """Absolute URL of the unsubscribe page for this user and campaign."""
    path = reverse("unsubscribe", kwargs={"token": unsubscribe_token(user_id=user_id, campaign_id=campaign_id)})
    return f"{settings.SITE_URL}{path}"


def read_unsubscribe_token(token: str) -> UnsubscribeClaim:
    """The claim in a token; raises `signing.BadSignature` (or its subclass `SignatureExpired`)."""
    data = signing.loads(token, salt=_SALT, max_age=TOKEN_MAX_AGE_SECONDS)
    return UnsubscribeClaim(user_id=int(data["u"]), campaign_id=data.get("c"))
