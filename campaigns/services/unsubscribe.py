"""campaigns' side of opt-outs: the history of each change, the ledger row of the message the
person answered, and the ledger rows a batch drops at claim time.

The opt-out itself (`email_opted_out_at`, the suppression list) is accounts' to write
(`accounts.services.opt_outs`); `opt_out_record` is the listener campaigns registers there in
`CampaignsConfig.ready()`, so staff opting someone out from the accounts admin is recorded too.
"""

from __future__ import annotations

from collections.abc import Sequence

from django.db.models import Exists, OuterRef
from django.db.models.functions import Lower

from accounts.models import User
from accounts.services import OptOutChange
from campaigns.models import CampaignRecipient, RecipientStatus, SubscriptionChange
from segments.selectors import reachable_users

# Left on a ledger row dropped when its batch was claimed.
DROPPED_AT_CLAIM = (
    "Not sent: opted out, suppressed, no longer verified or at another address after the audience was frozen."
)


def opt_out_record(change: OptOutChange) -> None:
    """Record an opt-out or opt-in: one history row when it changed anything, and the time on the
    ledger row of the message the person unsubscribed from (even on a repeat)."""
    if change.changed:
        SubscriptionChange.objects.create(
            user=change.user,
            campaign_id=change.campaign_id,
            opted_out=change.opted_out,
            method=change.method,
            created_at=change.at,
        )
    if change.opted_out and change.campaign_id is not None:
        CampaignRecipient.objects.filter(
            campaign_id=change.campaign_id, user=change.user, unsubscribed_at__isnull=True
        ).update(unsubscribed_at=change.at)


def ledger_row_reachable() -> Exists:
    """A condition on ledger rows: the row's person may still be emailed at the address the row
    froze, as `reachable_users` would freeze them now. The address matters because the rule is
    about one: a person who moved to another address since is judged at the new one, and the
    frozen address may meanwhile be suppressed (it bounced for its next owner) or no longer
    theirs; such a row is dropped rather than sent there. Case alone is no move."""
    frozen_address = Lower(OuterRef("email"))
    person = User.objects.filter(pk=OuterRef("user_id")).alias(address=Lower("email")).filter(address=frozen_address)
    return Exists(reachable_users(person))


def ledger_drop_unreachable(*, ids: Sequence[int]) -> list[int]:
    """Of the PENDING ledger rows `ids`, cancel those whose person may no longer be emailed at
    the row's address (`ledger_row_reachable`) and return the others in id order. Called as a
    batch is claimed, so an opt-out or a suppression stops mail even to a campaign already
    sending."""
    rows = CampaignRecipient.objects.filter(id__in=ids, status=RecipientStatus.PENDING)
    rows.exclude(ledger_row_reachable()).update(status=RecipientStatus.CANCELLED, last_error=DROPPED_AT_CLAIM)
    return list(rows.order_by("id").values_list("id", flat=True))
