"""Signed unsubscribe links, and the footer that puts one in every campaign.

The token names the user and the campaign and cannot be forged: it is a Django `signing` value
(HMAC with SECRET_KEY and a salt of its own), so the unsubscribe page never looks anything up by
a guessable id.
"""

from __future__ import annotations

import html
import re
from collections.abc import Sequence
from dataclasses import dataclass
from functools import lru_cache

from django.conf import settings
from django.core import signing
from django.urls import get_script_prefix, get_urlconf, reverse

# The salt keeps the module's former name: links already in inboxes must still verify.
_SALT = "campaigns.unsubscribe"
# Long enough for a message found at the bottom of an inbox; RFC 8058 asks the link to keep working.
TOKEN_MAX_AGE_SECONDS = 365 * 24 * 3600


@dataclass(frozen=True)
class UnsubscribeClaim:
    user_id: int
    campaign_id: int | None


def unsubscribe_token(*, user_id: int, campaign_id: int | None) -> str:
    """A signed, timestamped token naming the user and the campaign (`signing.dumps` format)."""
    # What `signing.dumps(..., salt=_SALT)` makes, without building a signer per call (a batch
    # signs a thousand). Not compressed: for two ids zlib saves nothing but on freak values (long
    # runs of zeros), and `signing.loads` reads compressed and uncompressed tokens alike.
    return _signer(settings.SECRET_KEY).sign_object({"u": user_id, "c": campaign_id})


@lru_cache(maxsize=4)
def _signer(secret_key: str) -> signing.TimestampSigner:
    # Keyed on the secret so a rotated SECRET_KEY (or a test overriding it) signs with the new one.
    return signing.TimestampSigner(key=secret_key, salt=_SALT)


def unsubscribe_url(*, user_id: int, campaign_id: int | None) -> str:
    """Absolute URL of the unsubscribe page for this user and campaign."""
    return unsubscribe_urls(user_ids=[user_id], campaign_id=campaign_id)[0]


def unsubscribe_urls(*, user_ids: Sequence[int], campaign_id: int | None) -> list[str]:
    """`unsubscribe_url` for each of `user_ids`, in order: what a batch of recipients needs,
    with the URL's shape looked up once rather than per recipient."""
    before, after = url_around_token("unsubscribe")
    return [f"{before}{unsubscribe_token(user_id=user_id, campaign_id=campaign_id)}{after}" for user_id in user_ids]


# Stands for the token while the URL is reversed once; tokens are URL-safe base64 plus ":" and
# ".", which `reverse()` leaves unquoted, so prefix + token + suffix is exactly what it returns.
_URL_SLOT = "unsubscribe-token-slot"


def url_around_token(view_name: str) -> tuple[str, str]:
    """The absolute URL of `view_name` (which takes a `token`) split around its token."""
    return _url_around_token(settings.SITE_URL, get_urlconf(settings.ROOT_URLCONF), get_script_prefix(), view_name)


@lru_cache(maxsize=16)
def _url_around_token(site_url: str, urlconf: str, script_prefix: str, view_name: str) -> tuple[str, str]:
    # `reverse()` costs more than signing the token; the URL only changes with these.
    path = reverse(view_name, urlconf=urlconf, kwargs={"token": _URL_SLOT})
    before, after = path.split(_URL_SLOT)
    return f"{site_url}{before}", after


def read_unsubscribe_token(token: str) -> UnsubscribeClaim:
    """The claim in a token; raises `signing.BadSignature` (or its subclass `SignatureExpired`)."""
    data = signing.loads(token, salt=_SALT, max_age=TOKEN_MAX_AGE_SECONDS)
    return UnsubscribeClaim(user_id=int(data["u"]), campaign_id=data.get("c"))


# --- The footer every campaign carries ------------------------------------------------------

# The placeholder the campaign content module replaces with each recipient's link.
_LINK_PLACEHOLDER = re.compile(r"\{\{\s*unsubscribe_url\s*(\|[^}]*)?\}\}")
_BODY_CLOSE = re.compile(r"</body\s*>", re.IGNORECASE)
_FOOTER_STYLE = (
    "margin-top:32px;padding-top:16px;border-top:1px solid #e5e7eb;"
    "font-size:12px;line-height:1.5;color:#6b7280;text-align:center;"
)


def with_unsubscribe_footer(*, body_html: str, body_text: str) -> tuple[str, str]:
    """The bodies with a footer added where they lack the unsubscribe link or the sender's
    postal address (SENDER_POSTAL_ADDRESS): Gmail and Yahoo require a visible unsubscribe link
    in bulk mail, and CAN-SPAM a postal address. A body that has both is left as written."""
    address = settings.SENDER_POSTAL_ADDRESS.strip()
    # Braces would read as template syntax in the campaign's content.
    address = address.replace("{", "(").replace("}", ")")
    return (
        _html_footer(body_html, address=address),
        _text_footer(body_text, address=address) if body_text.strip() else body_text,
    )


def _html_footer(body_html: str, *, address: str) -> str:
    parts = []
    if not _LINK_PLACEHOLDER.search(body_html):
        parts.append(
            '<p style="margin:0 0 8px;">Don\'t want these emails? '
            '<a href="{{ unsubscribe_url }}" style="color:#6b7280;">Unsubscribe</a></p>'
        )
    if address and html.escape(address) not in body_html and address not in body_html:
        parts.append(f'<p style="margin:0;">{html.escape(address)}</p>')
    if not parts:
        return body_html
    footer = f'<div style="{_FOOTER_STYLE}">{"".join(parts)}</div>'
    closing = list(_BODY_CLOSE.finditer(body_html))
    if not closing:
        return body_html + footer
    at = closing[-1].start()
    return body_html[:at] + footer + body_html[at:]


def _text_footer(body_text: str, *, address: str) -> str:
    lines = []
    if not _LINK_PLACEHOLDER.search(body_text):
        lines.append("Unsubscribe: {{ unsubscribe_url }}")
    if address and address not in body_text:
        lines.append(address)
    if not lines:
        return body_text
    return body_text.rstrip() + "\n\n--\n" + "\n".join(lines) + "\n"
