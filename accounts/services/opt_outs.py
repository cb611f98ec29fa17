"""Opt-outs and suppressions: every path that stops mail to a person ends here.

A person opts out with the link in a message (the page or a mail client's one-click POST),
through Brevo's own unsubscribe, or by staff. A suppression is wider: an address that must
never be mailed (bounced, complained, unsubscribed at Brevo, added by staff), whether or not a
user owns it. `segments.selectors.reachable_users` excludes both, so every audience, count,
snapshot and Brevo list sync follows at once.

accounts owns `email_opted_out_at` and the suppression list, so it writes them. An app above it
that keeps its own record of each change (campaigns: the history of changes and the ledger row
of the message answered) registers an opt-out listener from its `AppConfig.ready()`; accounts
calls it inside the same transaction without importing it.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable
from dataclasses import dataclass
from datetime import datetime

from django.db import transaction
from django.utils import timezone

from accounts.models import OptOutMethod, Suppression, SuppressionReason, User


@dataclass(frozen=True)
class OptOutChange:
    """One call of `user_opt_out` or `user_opt_in`, as the listeners receive it."""

    user: User
    opted_out: bool  # True for an opt-out, False for an opt-in
    changed: bool  # False for a repeat that changed nothing
    method: OptOutMethod
    at: datetime
    campaign_id: int | None  # the campaign whose message the person answered, if any


OptOutListener = Callable[[OptOutChange], None]
_opt_out_listeners: list[OptOutListener] = []


def opt_out_listener_register(listener: OptOutListener) -> None:
    """Call `listener` after accounts' own writes of every opt-out and opt-in, in their
    transaction (so an error in it undoes the change). Registering twice keeps one entry."""
    if listener not in _opt_out_listeners:
        _opt_out_listeners.append(listener)


def _notify(change: OptOutChange) -> None:
    for listener in _opt_out_listeners:
        listener(change)


@transaction.atomic
def user_opt_out(
    *, user: User, method: OptOutMethod, campaign_id: int | None = None, at: datetime | None = None
) -> bool:
    """Opt `user` out of campaign email; True when this call changed it (a repeat is harmless)."""
    now = at or timezone.now()
    # Decided in the database, so two clicks (or the page and a mail client) record one opt-out.
    changed = User.objects.filter(pk=user.pk, email_opted_out_at__isnull=True).update(email_opted_out_at=now)
    if changed:
        user.email_opted_out_at = now
    else:
        user.refresh_from_db(fields=["email_opted_out_at"])
    _notify(
        OptOutChange(user=user, opted_out=True, changed=bool(changed), method=method, at=now, campaign_id=campaign_id)
    )
    return bool(changed)


@transaction.atomic
def user_opt_in(*, user: User, method: OptOutMethod, campaign_id: int | None = None) -> bool:
    """Undo an opt-out (and an unsubscribe suppression of the address); True when anything changed.

    Bounce and complaint suppressions stay: the person cannot undo what their mailbox reported.
    """
    now = timezone.now()
    changed = User.objects.filter(pk=user.pk, email_opted_out_at__isnull=False).update(email_opted_out_at=None)
    removed, _ = Suppression.objects.filter(email=user.email.lower(), reason=SuppressionReason.UNSUBSCRIBE).delete()
    user.email_opted_out_at = None
    _notify(
        OptOutChange(
            user=user, opted_out=False, changed=bool(changed or removed), method=method, at=now, campaign_id=campaign_id
        )
    )
    return bool(changed or removed)


def suppression_add(*, email: str, reason: SuppressionReason, source: str, note: str = "") -> bool:
    """Suppress `email` (case-insensitively); True when new. An existing entry keeps its reason."""
    # get_or_create inserts in a savepoint and re-reads on a unique violation, so two webhooks
    # for the same address at once end with one row and no error.
    _, created = Suppression.objects.get_or_create(
        email=email.strip().lower(), defaults={"reason": reason, "source": source, "note": note}
    )
    return created


def suppressions_add_many(*, entries: Iterable[Suppression]) -> None:
    """Insert unsaved entries (addresses already lower-cased) in one statement; an address
    already suppressed, even by a webhook a moment ago, keeps its entry (ON CONFLICT DO NOTHING)."""
    Suppression.objects.bulk_create(entries, ignore_conflicts=True)


def suppression_for(*, email: str) -> Suppression | None:
    """The suppression covering `email`, if any."""
    return Suppression.objects.filter(email=email.strip().lower()).first()
