"""Signed unsubscribe links, and the footer that puts one in every campaign.

The token names the user and the campaign and cannot be forged: it is a Django `signing` value
(HMAC with SECRET_KEY and a salt of its own), so the unsubscribe page never looks anything up by
a guessable id.
"""

from __future__ import annotations

import html
import re
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
