"""What a campaign says: placeholders, validation, rendering, and each recipient's params.

Staff may write five placeholders in the subject, preheader and bodies: `{{ first_name }}`,
`{{ last_name }}`, `{{ email }}`, `{{ unsubscribe_url }}` and `{{ web_version_url }}` (the
email in a browser), each with an optional `| default:"..."`. Anything else that looks like
template syntax is refused when the campaign is saved. A small parser of our own reads them;
campaign content never reaches Django's template engine, so it cannot load tags, include files
or read settings.

The same parsed content is produced in two shapes:

- for Brevo, placeholders become Brevo's own syntax (`{{ params.first_name | default: "x" }}`)
  and each recipient's values travel in their message version's `params`;
- for the local outbox (and previews), the values are substituted here, HTML-escaped in HTML.

Either way the HTML is CSS-inlined once per campaign and a plain-text part goes with it.
`recipient_personalisation` (one recipient) and `recipients_personalisation` (a batch) are the
one place that decides a recipient's params and headers.
"""

from __future__ import annotations

import html
import re
import secrets
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from email.utils import formataddr, parseaddr
from html.parser import HTMLParser
from typing import NamedTuple

import css_inline
from django.conf import settings

from campaigns.unsubscribe_links import unsubscribe_urls, with_unsubscribe_footer
from campaigns.web_version_links import web_version_urls
from core.errors import InvalidInputError

PLACEHOLDER_NAMES = ("first_name", "last_name", "email", "unsubscribe_url", "web_version_url")
ALLOWED_SYNTAX = ", ".join(f"{{{{ {name} }}}}" for name in PLACEHOLDER_NAMES)

# The largest HTML body accepted: Brevo refuses request bodies over 10 MB, and Gmail clips
# messages over ~100 KB anyway, so 1 MB leaves room for a 1,000-version batch of params.
MAX_HTML_BYTES = 1_000_000

# Anything that opens template syntax. `{{` must start a valid placeholder; `{%` and `{#`
# (tags, comments) are never allowed.
_OPENER = re.compile(r"\{\{|\{%|\{#")
_PLACEHOLDER = re.compile(
    r"""^\s*(?P<name>[^\s|}]+)\s*(?:\|\s*(?P<filter>[^\s:}]+)\s*(?::\s*(?P<argument>"[^"]*"|'[^']*'))?\s*)?$"""
)


@dataclass(frozen=True)
class Placeholder:
    name: str
    default: str | None = None


Template = tuple[str | Placeholder, ...]


def parse(text: str, *, field: str) -> Template:
    """Split `text` into literal parts and placeholders; InvalidInputError (naming `field` and
    the offending syntax) for anything else."""
    parts: list[str | Placeholder] = []
    position = 0
    for opener in _OPENER.finditer(text):
        start = opener.start()
        if start < position:
            continue
        kind = opener.group()
        if kind == "{%":
            end = text.find("%}", start)
            snippet = text[start : end + 2] if end != -1 else text[start : start + 40]
            tag = snippet[2:].strip().split(" ", 1)[0].rstrip("%}").strip()
            raise InvalidInputError(
                f"Template tags are not allowed ({{% {tag} %}} in {snippet!r}); use only {ALLOWED_SYNTAX}.",
                field=field,
            )
        if kind == "{#":
            raise InvalidInputError(
                f"Template comments ({{# ... #}}) are not allowed; use only {ALLOWED_SYNTAX}.", field=field
            )
        end = text.find("}}", start + 2)
        if end == -1:
            raise InvalidInputError(f"Unclosed placeholder {text[start : start + 40]!r}: missing '}}}}'.", field=field)
        parts.append(text[position:start])
        parts.append(_placeholder(text[start + 2 : end], snippet=text[start : end + 2], field=field))
        position = end + 2
    parts.append(text[position:])
    return tuple(part for part in parts if part != "")


def _placeholder(inner: str, *, snippet: str, field: str) -> Placeholder:
    found = _PLACEHOLDER.match(inner)
    if found is None:
        raise InvalidInputError(
            f'{snippet} is not a valid placeholder; use {ALLOWED_SYNTAX}, optionally with | default:"...".',
            field=field,
        )
    name, filter_name, argument = found.group("name"), found.group("filter"), found.group("argument")
    if "." in name or "[" in name:
        raise InvalidInputError(f"Attribute access is not allowed ({snippet}); use only {ALLOWED_SYNTAX}.", field=field)
    if name not in PLACEHOLDER_NAMES:
        raise InvalidInputError(f"Unknown placeholder {snippet}; use only {ALLOWED_SYNTAX}.", field=field)
    if filter_name is None:
        return Placeholder(name)
    if filter_name != "default":
        raise InvalidInputError(f"Filter {filter_name!r} is not allowed in {snippet}; only default is.", field=field)
    if argument is None:
        raise InvalidInputError(f'default needs a quoted value in {snippet}, e.g. | default:"friend".', field=field)
    return Placeholder(name, default=argument[1:-1])


def validate_campaign_content(*, subject: str, preheader: str = "", body_html: str, body_text: str = "") -> None:
    """Parse every part of a campaign; raises InvalidInputError naming the field at fault."""
    for field, value in (
        ("subject", subject),
        ("preheader", preheader),
        ("body_html", body_html),
        ("body_text", body_text),
    ):
        parse(value, field=field)
    if not body_html.strip():
        raise InvalidInputError("The HTML body is required.", field="body_html")
    if len(body_html.encode()) > MAX_HTML_BYTES:
        raise InvalidInputError(f"The HTML body is over {MAX_HTML_BYTES // 1000} KB.", field="body_html")


def subject_for(subject: str, params: Mapping[str, str]) -> str:
    """The subject as a recipient with these values got it (what recipient pages show)."""
    return _join(parse(subject, field="subject"), lambda placeholder: _value(placeholder, params))


def readable_subject(subject: str) -> str:
    """The subject with each placeholder as words ("[first name]", or its default): a name staff
    can read for a campaign that was given none. Never raises: unparsable text stays as written."""
    try:
        template = parse(subject, field="subject")
    except InvalidInputError:
        return subject
    return _join(
        template,
        lambda placeholder: (
            placeholder.default if placeholder.default is not None else f"[{placeholder.name.replace('_', ' ')}]"
        ),
    ).strip()


def sender_header(*, from_name: str, from_email: str) -> str:
    """The From header recipients see. A campaign without its own address sends from
    DEFAULT_FROM_EMAIL's address, under the campaign's From name when it has one (else the
    default's name); an address of its own goes with the campaign's name only."""
    if from_email:
        return formataddr((from_name, from_email)) if from_name else from_email
    default_name, default_address = parseaddr(str(settings.DEFAULT_FROM_EMAIL))
    name = from_name or default_name
    return formataddr((name, default_address)) if name else default_address


# --- Seam 2: what one recipient gets ----------------------------------------------------------


@dataclass(frozen=True)
class Personalisation:
    """One recipient's placeholder values and per-message headers."""

    params: dict[str, str]
    headers: dict[str, str]


class Recipient(NamedTuple):
    """Who one message is for, as `recipients_personalisation` needs it."""

    user_id: int
    email: str
    first_name: str
    last_name: str


def recipient_personalisation(
    *, campaign_id: int | None, user_id: int, email: str, first_name: str, last_name: str
) -> Personalisation:
    """THE function deciding a recipient's params and headers: Brevo batches, the local outbox,
    previews and test sends all call it (with sample data for the last two)."""
    recipient = Recipient(user_id=user_id, email=email, first_name=first_name, last_name=last_name)
    return recipients_personalisation(campaign_id=campaign_id, recipients=[recipient])[0]


def recipients_personalisation(*, campaign_id: int | None, recipients: Sequence[Recipient]) -> list[Personalisation]:
    """`recipient_personalisation` for each of `recipients` of one campaign, in order (a batch
    signs its unsubscribe links in one call)."""
    user_ids = [recipient.user_id for recipient in recipients]
    links = unsubscribe_urls(user_ids=user_ids, campaign_id=campaign_id)
    web_versions = web_version_urls(user_ids=user_ids, campaign_id=campaign_id)
    return [
        Personalisation(
            params={
                "first_name": recipient.first_name,
                "last_name": recipient.last_name,
                "email": recipient.email,
                "unsubscribe_url": link,
                "web_version_url": web_version,
            },
            headers={
                # RFC 2369 / RFC 8058: mail clients show an unsubscribe button that POSTs to the link.
                "List-Unsubscribe": f"<{link}>",
                "List-Unsubscribe-Post": "List-Unsubscribe=One-Click",
            },
        )
        for recipient, link, web_version in zip(recipients, links, web_versions, strict=True)
    ]


# --- Preparing a campaign once, rendering it many times --------------------------------------


@dataclass(frozen=True)
class RenderedMessage:
    subject: str
    html: str
    text: str


@dataclass(frozen=True)
class PreparedContent:
    """A campaign's subject, CSS-inlined HTML and text part, parsed once per batch."""

    subject: Template
    html: Template
    text: Template

    def for_brevo(self) -> RenderedMessage:
        """The three parts in Brevo's template syntax; values come from each version's params."""
        return RenderedMessage(
            subject=_join(self.subject, _brevo_placeholder),
            html=_join(self.html, _brevo_placeholder),
            text=_join(self.text, _brevo_placeholder),
        )

    def render(self, params: Mapping[str, str]) -> RenderedMessage:
        """The three parts with `params` substituted here (escaped in the HTML part)."""
        return RenderedMessage(
            subject=_join(self.subject, lambda placeholder: _value(placeholder, params)),
            html=_join(self.html, lambda placeholder: _value(placeholder, params, escape=html.escape)),
            text=_join(self.text, lambda placeholder: _value(placeholder, params)),
        )


def prepare_content(*, subject: str, preheader: str, body_html: str, body_text: str) -> PreparedContent:
    """Parse, inline CSS (no remote or local stylesheet is ever loaded) and derive the text part."""
    # Every message gets a visible unsubscribe link and the postal address, written or not.
    body_html, body_text = with_unsubscribe_footer(body_html=body_html, body_text=body_text)
    marker = f"cmpph{secrets.token_hex(4)}"
    placeholders: list[Placeholder] = []

    def with_markers(template: Template, *, escape: bool) -> str:
        # Placeholders are swapped for inert words while the HTML is rewritten, so the inliner
        # and the text converter cannot mangle them (quotes inside attributes, for instance).
        out = []
        for part in template:
            if isinstance(part, Placeholder):
                out.append(f"{marker}n{len(placeholders)}e")
                placeholders.append(part)
            else:
                out.append(html.escape(part) if escape else part)
        return "".join(out)

    html_source = with_markers(parse(body_html, field="body_html"), escape=False)
    if body_text.strip():
        text_source = with_markers(parse(body_text, field="body_text"), escape=False)
    else:
        text_source = html_to_text(html_source)
    preheader_source = with_markers(parse(preheader, field="preheader"), escape=True)
    inlined = _INLINER.inline(_with_preheader(html_source, preheader_source))
    pattern = re.compile(rf"{marker}n(\d+)e")

    def restore(source: str) -> Template:
        pieces = pattern.split(source)
        parts: list[str | Placeholder] = []
        for index, piece in enumerate(pieces):
            if index % 2:
                parts.append(placeholders[int(piece)])
            elif piece:
                parts.append(piece)
        return tuple(parts)

    return PreparedContent(subject=parse(subject, field="subject"), html=restore(inlined), text=restore(text_source))


# Style tags are inlined into style attributes; @media rules stay in a <style> block (they cannot
# be inlined); <link> stylesheets are dropped rather than fetched.
_INLINER = css_inline.CSSInliner(load_remote_stylesheets=False, keep_at_rules=True)

_PREHEADER_STYLE = "display:none;max-height:0;overflow:hidden;mso-hide:all;font-size:1px;line-height:1px;"
_BODY_OPEN = re.compile(r"<body\b[^>]*>", re.IGNORECASE)


def _with_preheader(body_html: str, preheader: str) -> str:
    """The preheader as the first, hidden, element of the body: inboxes show it after the subject."""
    if not preheader:
        return body_html
    block = f'<div style="{_PREHEADER_STYLE}">{preheader}</div>'
    found = _BODY_OPEN.search(body_html)
    if found is None:
        return block + body_html
    return body_html[: found.end()] + block + body_html[found.end() :]


def _join(template: Template, render: Callable[[Placeholder], str]) -> str:
    return "".join(part if isinstance(part, str) else render(part) for part in template)


def _value(placeholder: Placeholder, params: Mapping[str, str], *, escape: Callable[[str], str] = str) -> str:
    # A recipient's value is data (escaped in HTML); a default was written by staff like the rest
    # of the body, so it goes in as written, as Brevo would put it.
    value = params.get(placeholder.name, "")
    if not value and placeholder.default is not None:
        return placeholder.default
    return escape(value)


def _brevo_placeholder(placeholder: Placeholder) -> str:
    if placeholder.default is None:
        return f"{{{{ params.{placeholder.name} }}}}"
    quote = "'" if '"' in placeholder.default else '"'
    return f"{{{{ params.{placeholder.name} | default: {quote}{placeholder.default}{quote} }}}}"


# --- HTML to text ---------------------------------------------------------------------------

_BLOCK_TAGS = frozenset(
    {"p", "div", "br", "tr", "table", "h1", "h2", "h3", "h4", "h5", "h6", "ul", "ol", "blockquote", "hr", "section"}
)
_SKIPPED_TAGS = frozenset({"head", "style", "script", "title", "template"})


class _TextExtractor(HTMLParser):
    def __init__(self) -> None:
        super().__init__(convert_charrefs=True)
        self.chunks: list[str] = []
        self.skipping = 0
        self.links: list[str | None] = []

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        if tag in _SKIPPED_TAGS:
            self.skipping += 1
        elif tag in _BLOCK_TAGS:
            self.chunks.append("\n\n" if tag != "br" else "\n")
        elif tag == "li":
            self.chunks.append("\n- ")
        elif tag == "a":
            self.links.append(dict(attrs).get("href"))
            self.chunks.append("")

    def handle_endtag(self, tag: str) -> None:
        if tag in _SKIPPED_TAGS:
            self.skipping = max(0, self.skipping - 1)
        elif tag in _BLOCK_TAGS:
            self.chunks.append("\n\n")
        elif tag == "a" and self.links:
            href = self.links.pop()
            if href and not href.startswith(("#", "mailto:")):
                self.chunks.append(f" ({href})")

    def handle_data(self, data: str) -> None:
        if not self.skipping:
            self.chunks.append(re.sub(r"\s+", " ", data))


def html_to_text(source: str) -> str:
    """A readable plain-text version of an HTML body: paragraphs, list items, links as `(url)`."""
    extractor = _TextExtractor()
    extractor.feed(source)
    extractor.close()
    lines = [line.strip() for line in "".join(extractor.chunks).splitlines()]
    text = "\n".join(lines)
    return re.sub(r"\n{3,}", "\n\n", text).strip()


# --- Sample data for previews and test sends ---------------------------------------------------

# Names used when a preview or test send has no real recipient to show.
SAMPLE_FIRST_NAME = "Alex"
SAMPLE_LAST_NAME = "Sample"
