"""Signed web version links: "view this email in your browser", one per recipient.

The token names the user and the campaign and is signed (HMAC with SECRET_KEY and a salt of its
own, so an unsubscribe token is not a web version token nor the reverse). It carries no expiry:
the link in an old email keeps working until the person is erased, when the page answers 404.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from functools import lru_cache

from django.conf import settings
from django.core import signing

from campaigns.unsubscribe_links import url_around_token

_SALT = "campaigns.web_version"


@dataclass(frozen=True)
class WebVersionClaim:
    user_id: int
    campaign_id: int


@lru_cache(maxsize=4)
def _signer(secret_key: str) -> signing.Signer:
    # Keyed on the secret so a rotated SECRET_KEY (or a test overriding it) signs with the new one.
    return signing.Signer(key=secret_key, salt=_SALT)


def web_version_urls(*, user_ids: Sequence[int], campaign_id: int | None) -> list[str]:
    """The web version link of `campaign_id` for each of `user_ids`, in order."""
    before, after = url_around_token("web_version")
    signer = _signer(settings.SECRET_KEY)
    return [f"{before}{signer.sign_object({'u': user_id, 'c': campaign_id})}{after}" for user_id in user_ids]


def read_web_version_token(token: str) -> WebVersionClaim:
    """The claim in a token; raises `signing.BadSignature` when it was not signed here."""
    data = _signer(settings.SECRET_KEY).unsign_object(token)
    try:
        return WebVersionClaim(user_id=int(data["u"]), campaign_id=int(data["c"]))
    except (KeyError, TypeError, ValueError) as error:
        raise signing.BadSignature("Malformed web version token.") from error
