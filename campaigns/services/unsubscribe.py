"""Opt-outs and suppressions: every path that stops mail to a person ends here.

A person opts out with the link in a message (the page or a mail client's one-click POST),
through Brevo's own unsubscribe, or by staff. A suppression is wider: an address that must
never be mailed (bounced, complained, unsubscribed at Brevo, added by staff), whether or not a
user owns it. `segments.selectors.reachable_users` excludes both, so every audience, count,
snapshot and Brevo list sync follows at once.
"""

from __future__ import annotations

from collections.abc import Sequence
from datetime import datetime

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
