"""Layouts: the shared frame (header, styles, footer) a campaign's body is placed in.

A layout is HTML with exactly one `{{ content }}` slot, where the body goes, and otherwise the
placeholders and rules of campaign bodies (`campaigns.content`). It may be written in MJML and
compiled here to responsive HTML by mjml-python (the MRML port: a Rust compiler, no node); the
compiled HTML is what is stored and sent. The compiler loads no include and imports no web
font, so a layout cannot read files or make inboxes fetch anything it does not name.

Nothing here reads the database: `campaigns.rendering` wraps a campaign's body with these.
"""

from __future__ import annotations

import re

from mjml import mjml2html

from campaigns.content import ALLOWED_SYNTAX, MAX_HTML_BYTES, parse
from core.errors import InvalidInputError

CONTENT_SLOT = "{{ content }}"
_SLOT = re.compile(r"\{\{\s*content\s*\}\}")
_UNSUBSCRIBE = re.compile(r"\{\{\s*unsubscribe_url\s*(\|[^}]*)?\}\}")
_HEAD_CLOSE = re.compile(r"</head\s*>", re.IGNORECASE)
_BODY_OPEN = re.compile(r"<body\b[^>]*>", re.IGNORECASE)
_BODY_CLOSE = re.compile(r"</body\s*>", re.IGNORECASE)
_STYLE_BLOCK = re.compile(r"<style\b[^>]*>.*?</style\s*>", re.IGNORECASE | re.DOTALL)
# CSS is placed in a <style> element: anything that could close it or open markup is refused.
_CSS_FORBIDDEN = re.compile(r"<|\{\{|\{%|\{#")
MAX_CSS_BYTES = 100_000


def compile_mjml(source: str) -> str:
    """MJML to HTML; InvalidInputError on `mjml` naming what the compiler could not read."""
    try:
        return mjml2html(source, fonts={}, disable_comments=True)
    except ValueError as error:
        raise InvalidInputError(f"This MJML does not compile: {error}.", field="mjml") from error


def validate_layout(*, html: str, css: str = "", field: str = "html") -> None:
    """Exactly one `{{ content }}` slot, placeholders as in campaign bodies, CSS that stays CSS."""
    slots = len(_SLOT.findall(html))
    if slots != 1:
        found = "none" if not slots else f"{slots}"
        raise InvalidInputError(
            f"A layout needs exactly one {CONTENT_SLOT} slot, where the body goes; found {found}.",
            field=field,
        )
    if len(html.encode()) > MAX_HTML_BYTES:
        raise InvalidInputError(f"The layout is over {MAX_HTML_BYTES // 1000} KB.", field=field)
    try:
        parse(_SLOT.sub("", html), field=field)
    except InvalidInputError as error:
        # The slot is the layout's own placeholder: say so beside the body's.
        raise InvalidInputError(f"{error.message} A layout may also hold {CONTENT_SLOT}.", field=field) from error
    if _CSS_FORBIDDEN.search(css):
        raise InvalidInputError(
            f"CSS only: no markup (<) and no template syntax ({ALLOWED_SYNTAX} belong in the HTML).", field="css"
        )
    if len(css.encode()) > MAX_CSS_BYTES:
        raise InvalidInputError(f"The CSS is over {MAX_CSS_BYTES // 1000} KB.", field="css")


def lacks_unsubscribe_link(html: str) -> bool:
    """True when the layout has no `{{ unsubscribe_url }}`: emails using it get the standard
    footer (the link and the postal address) unless the campaign's body has its own link."""
    return not _UNSUBSCRIBE.search(html)


def wrap_in_layout(*, layout_html: str, css: str, body_html: str) -> str:
    """The body placed in the layout's slot. A body written as a whole document gives its
    `<style>` blocks to the layout's head and its `<body>` contents to the slot; the layout's
    CSS goes in a `<style>` block too (inlined with the rest when the message is prepared)."""
    styles = ""
    inner = body_html
    opening = _BODY_OPEN.search(body_html)
    if opening is not None:
        styles = "".join(_STYLE_BLOCK.findall(body_html[: opening.start()]))
        closing = list(_BODY_CLOSE.finditer(body_html))
        end = closing[-1].start() if closing and closing[-1].start() > opening.end() else len(body_html)
        inner = body_html[opening.end() : end]
    if css.strip():
        styles = f"<style>{css}</style>" + styles
    # A function as the replacement: the body is inserted as written (backslashes included).
    wrapped = _SLOT.sub(lambda _: inner, layout_html, count=1)
    if not styles:
        return wrapped
    head_close = _HEAD_CLOSE.search(wrapped)
    if head_close is not None:
        return wrapped[: head_close.start()] + styles + wrapped[head_close.start() :]
    return styles + wrapped
