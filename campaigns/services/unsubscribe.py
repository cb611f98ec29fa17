"""Opt-outs and suppressions: every path that stops mail to a person ends here.

A person opts out with the link in a message (the page or a mail client's one-click POST),
through Brevo's own unsubscribe, or by staff. A suppression is wider: an address that must
never be mailed (bounced, complained, unsubscribed at Brevo, added by staff), whether or not a
user owns it. `segments.selectors.reachable_users` excludes both, so every audience, count,
snapshot and Brevo list sync follows at once.
"""

from __future__ import annotations

import csv
import re
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field
from datetime import datetime

from django.core.exceptions import ValidationError
from django.core.validators import validate_email
from django.db import transaction
from django.db.models import Exists, OuterRef
from django.utils import timezone

from accounts.models import Suppression, SuppressionReason, User
from campaigns.models import Campaign, CampaignRecipient, OptOutMethod, RecipientStatus, SubscriptionChange
from segments.selectors import reachable_users

# Left on a ledger row dropped when its batch was claimed.
DROPPED_AT_CLAIM = "Not sent: opted out, suppressed or no longer verified after the audience was frozen."


@transaction.atomic
def user_opt_out(
    *, user: User, method: OptOutMethod, campaign: Campaign | None = None, at: datetime | None = None
) -> bool:
    """Opt `user` out of campaign email; True when this call changed it (a repeat is harmless)."""
    now = at or timezone.now()
    # Decided in the database, so two clicks (or the page and a mail client) record one opt-out.
    changed = User.objects.filter(pk=user.pk, email_opted_out_at__isnull=True).update(email_opted_out_at=now)
    if changed:
        user.email_opted_out_at = now
        SubscriptionChange.objects.create(user=user, campaign=campaign, opted_out=True, method=method, created_at=now)
    else:
        user.refresh_from_db(fields=["email_opted_out_at"])
    if campaign is not None:
        CampaignRecipient.objects.filter(campaign=campaign, user=user, unsubscribed_at__isnull=True).update(
            unsubscribed_at=now
        )
    return bool(changed)


@transaction.atomic
def user_opt_in(*, user: User, method: OptOutMethod, campaign: Campaign | None = None) -> bool:
    """Undo an opt-out (and an unsubscribe suppression of the address); True when anything changed.

    Bounce and complaint suppressions stay: the person cannot undo what their mailbox reported.
    """
    changed = User.objects.filter(pk=user.pk, email_opted_out_at__isnull=False).update(email_opted_out_at=None)
    removed, _ = Suppression.objects.filter(email=user.email.lower(), reason=SuppressionReason.UNSUBSCRIBE).delete()
    user.email_opted_out_at = None
    if changed or removed:
        SubscriptionChange.objects.create(user=user, campaign=campaign, opted_out=False, method=method)
    return bool(changed or removed)


def suppression_add(*, email: str, reason: SuppressionReason, source: str, note: str = "") -> bool:
    """Suppress `email` (case-insensitively); True when new. An existing entry keeps its reason."""
    # get_or_create inserts in a savepoint and re-reads on a unique violation, so two webhooks
    # for the same address at once end with one row and no error.
    _, created = Suppression.objects.get_or_create(
        email=email.strip().lower(), defaults={"reason": reason, "source": source, "note": note}
    )
    return created


def suppression_for(*, email: str) -> Suppression | None:
    """The suppression covering `email`, if any."""
    return Suppression.objects.filter(email=email.strip().lower()).first()


def ledger_drop_unreachable(*, ids: Sequence[int]) -> list[int]:
    """Of the PENDING ledger rows `ids`, cancel those whose person may no longer be emailed and
    return the others in id order. Called as a batch is claimed, so an opt-out or a suppression
    stops mail even to a campaign already sending; `reachable_users` decides, as at the freeze.
    """
    still_reachable = reachable_users(User.objects.filter(pk=OuterRef("user_id")))
    rows = CampaignRecipient.objects.filter(id__in=ids, status=RecipientStatus.PENDING)
    rows.exclude(Exists(still_reachable)).update(status=RecipientStatus.CANCELLED, last_error=DROPPED_AT_CLAIM)
    return list(rows.order_by("id").values_list("id", flat=True))


# --- Importing a suppression list from another tool ----------------------------------------

# Rows written per INSERT: a few hundred KB of SQL, far below any statement limit.
IMPORT_CHUNK_SIZE = 5000
# What other tools call the reasons, mapped to ours (compared lower-cased, spaces and dashes as _).
REASON_ALIASES = {
    **{reason.value.lower(): reason for reason in SuppressionReason},
    "bounce": SuppressionReason.HARD_BOUNCE,
    "bounced": SuppressionReason.HARD_BOUNCE,
    "hardbounce": SuppressionReason.HARD_BOUNCE,
    "invalid": SuppressionReason.HARD_BOUNCE,
    "invalid_email": SuppressionReason.HARD_BOUNCE,
    "spam": SuppressionReason.COMPLAINT,
    "spam_complaint": SuppressionReason.COMPLAINT,
    "complained": SuppressionReason.COMPLAINT,
    "unsubscribed": SuppressionReason.UNSUBSCRIBE,
    "optout": SuppressionReason.UNSUBSCRIBE,
    "opt_out": SuppressionReason.UNSUBSCRIBE,
    "blocklisted": SuppressionReason.BLOCKED,
    "blacklisted": SuppressionReason.BLOCKED,
}
# The check Brevo applies (one "@", a dot in the domain) on top of Django's validator.
_DELIVERABLE_SHAPE = re.compile(r"^[^@\s]+@[^@\s]+\.[^@\s.]+$")


@dataclass
class SuppressionImportReport:
    rows: int = 0
    added: int = 0
    already_suppressed: int = 0
    duplicates: int = 0
    errors: list[tuple[int, str]] = field(default_factory=list)


def _reason(value: str, default: SuppressionReason) -> SuppressionReason | None:
    if not value.strip():
        return default
    return REASON_ALIASES.get(re.sub(r"[\s-]+", "_", value.strip().lower()))


def suppressions_import(
    *, lines: Iterable[str], source: str, default_reason: SuppressionReason, dry_run: bool = False
) -> SuppressionImportReport:
    """Add the addresses of a CSV (`email[,reason[,note]]`, header optional) to the suppression
    list. Bad rows are reported with their line number and skipped; addresses already suppressed
    keep their entry, so running the same file twice adds nothing the second time."""
    report = SuppressionImportReport()
    pending: dict[str, Suppression] = {}
    for line_number, row in _numbered_rows(lines):
        cells = [cell.strip() for cell in row]
        if not any(cells):
            continue
        if line_number == 1 and cells[0].lower() in ("email", "email address", "e-mail"):
            continue
        report.rows += 1
        email = cells[0].lower()
        reason = _reason(cells[1] if len(cells) > 1 else "", default_reason)
        problem = _row_problem(email, cells, reason)
        if problem is not None:
            report.errors.append((line_number, problem))
            continue
        if email in pending:
            report.duplicates += 1
            continue
        assert reason is not None
        note = cells[2] if len(cells) > 2 else ""
        pending[email] = Suppression(email=email, reason=reason, source=source, note=note)
        if len(pending) >= IMPORT_CHUNK_SIZE:
            _write_chunk(pending, report, dry_run=dry_run)
            pending = {}
    _write_chunk(pending, report, dry_run=dry_run)
    return report


def _numbered_rows(lines: Iterable[str]) -> Iterable[tuple[int, list[str]]]:
    reader = csv.reader(lines)
    for row in reader:
        # line_num counts physical lines, so a quoted cell spanning lines still points right.
        yield reader.line_num, row


def _row_problem(email: str, cells: list[str], reason: SuppressionReason | None) -> str | None:
    if len(cells) > 3:
        return f"expected email, reason, note; got {len(cells)} columns"
    if not email:
        return "the email is empty"
    try:
        validate_email(email)
    except ValidationError:
        return f"{cells[0]!r} is not a valid email address"
    if not _DELIVERABLE_SHAPE.match(email) or len(email) > 254:
        return f"{cells[0]!r} is not a valid email address"
    if reason is None:
        known = ", ".join(sorted(reason.value.lower() for reason in SuppressionReason))
        return f"unknown reason {cells[1]!r} (use one of {known})"
    return None


def _write_chunk(chunk: dict[str, Suppression], report: SuppressionImportReport, *, dry_run: bool) -> None:
    if not chunk:
        return
    existing = set(Suppression.objects.filter(email__in=list(chunk)).values_list("email", flat=True))
    new = [entry for email, entry in chunk.items() if email not in existing]
    report.already_suppressed += len(existing)
    if not dry_run and new:
        # ON CONFLICT DO NOTHING: an address suppressed by a webhook meanwhile keeps that entry.
        Suppression.objects.bulk_create(new, ignore_conflicts=True)
    report.added += len(new)
