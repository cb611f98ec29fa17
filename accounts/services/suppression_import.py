"""Importing a suppression list from another email tool (bounces, complaints, opt-outs)."""

from __future__ import annotations

import csv
import re
from collections.abc import Iterable
from dataclasses import dataclass, field

from django.core.exceptions import ValidationError
from django.core.validators import validate_email

from accounts.models import Suppression, SuppressionReason
from accounts.services.opt_outs import suppressions_add_many

# Rows written per INSERT: a few hundred KB of SQL, far below any statement limit.
IMPORT_CHUNK_SIZE = 5000
# What other tools call the reasons, mapped to ours (compared lower-cased, spaces and dashes as _).
# ERASED is written only when an erased address signs up again: no file can claim it.
IMPORTABLE_REASONS = [reason for reason in SuppressionReason if reason != SuppressionReason.ERASED]
REASON_ALIASES = {
    **{reason.value.lower(): reason for reason in IMPORTABLE_REASONS},
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
        known = ", ".join(sorted(reason.value.lower() for reason in IMPORTABLE_REASONS))
        return f"unknown reason {cells[1]!r} (use one of {known})"
    return None


def _write_chunk(chunk: dict[str, Suppression], report: SuppressionImportReport, *, dry_run: bool) -> None:
    if not chunk:
        return
    existing = set(Suppression.objects.filter(email__in=list(chunk)).values_list("email", flat=True))
    new = [entry for email, entry in chunk.items() if email not in existing]
    report.already_suppressed += len(existing)
    if not dry_run and new:
        suppressions_add_many(entries=new)
    report.added += len(new)
