"""The campaign state machine: one table of transitions, and the one way to apply them.

Every status change goes through `campaign_transition`, the staff's actions (the API and the
admin) and the pipeline's own (start when due, finish, fail, resend) alike; the admin reads the
same table to offer only the buttons that can succeed. A transition is one conditional UPDATE
(`... WHERE status IN (allowed)`), so two requests or workers racing for it cannot both win.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

from django.db.models import Q, QuerySet
from django.db.models.expressions import Expression
from django.utils import timezone

from campaigns.models import Campaign, CampaignStatus
from core.errors import StateConflictError

DRAFT, SCHEDULED, SENDING, PAUSED, WAITING = (
    CampaignStatus.DRAFT,
    CampaignStatus.SCHEDULED,
    CampaignStatus.SENDING,
    CampaignStatus.PAUSED,
    CampaignStatus.WAITING_FOR_WINNER,
)


@dataclass(frozen=True)
class Transition:
    """The statuses an action may start from, and the status it leaves (None: unchanged)."""

    from_statuses: tuple[CampaignStatus, ...]
    to_status: CampaignStatus | None = None


TRANSITIONS: dict[str, Transition] = {
    # Staff actions (API and admin).
    "edit": Transition((DRAFT,)),
    "delete": Transition((DRAFT,)),
    "send": Transition((DRAFT,), SENDING),
    "schedule": Transition((DRAFT,), SCHEDULED),
    "unschedule": Transition((SCHEDULED,), DRAFT),
    # Pausing an A/B test while it waits holds the decision back; resuming goes through SENDING,
    # which finds the test sent and waits again until the same `ab_decide_at`.
    "pause": Transition((SENDING, WAITING), PAUSED),
    "resume": Transition((PAUSED,), SENDING),
    # Cancelled while waiting for the winner: the remainder is never sent.
    "cancel": Transition((SENDING, PAUSED, WAITING), CampaignStatus.CANCELLED),
    # Staff pick the A/B winner instead of waiting for the automatic decision.
    "pick_winner": Transition((WAITING,), SENDING),
    "duplicate": Transition(tuple(CampaignStatus)),
    # A new draft for those who did (not) open or click: once the campaign has recipients and
    # stopped sending.
    "follow_up": Transition((CampaignStatus.SENT, PAUSED, CampaignStatus.CANCELLED)),
    # Showing it in the public archive (or not) is decided until it is sent.
    "archive": Transition((DRAFT, SCHEDULED, SENDING, WAITING, PAUSED)),
    # The pipeline's own.
    "start_when_due": Transition((SCHEDULED,), SENDING),
    # A scheduled campaign whose audience is empty when it becomes due.
    "fail_when_due": Transition((SCHEDULED,), CampaignStatus.FAILED),
    # The start job freezes the audience of a sending (or since paused) campaign.
    "start": Transition((SENDING, PAUSED)),
    "finish": Transition((SENDING,), CampaignStatus.SENT),
    # An A/B test's variants are all sent: the remainder waits for the winner's decision...
    "await_winner": Transition((SENDING,), WAITING),
    # ...which runs once, when due, and sends the remainder the winner.
    "decide_winner": Transition((WAITING,), SENDING),
    # A campaign-level refusal (say Brevo refuses the sender).
    "fail": Transition((SENDING, PAUSED), CampaignStatus.FAILED),
    # The account cannot send (Brevo's 402 / 403): paused with the reason until staff resume.
    "hold": Transition((SENDING,), PAUSED),
    # Operators may send more of a campaign that has a ledger: running ones just get more
    # pending rows, finished ones are reopened. Drafts have no ledger; cancelled ones were
    # stopped on purpose.
    "resend": Transition((CampaignStatus.SENT, CampaignStatus.FAILED, SENDING, PAUSED)),
    "reopen": Transition((CampaignStatus.SENT, CampaignStatus.FAILED), SENDING),
}


def campaign_action_allowed(*, campaign: Campaign, action: str) -> bool:
    """Whether `action` may start from the campaign's current status."""
    return campaign.status in TRANSITIONS[action].from_statuses


def campaigns_allowing(action: str) -> QuerySet[Campaign]:
    """The campaigns whose status lets `action` start."""
    return Campaign.objects.filter(status__in=TRANSITIONS[action].from_statuses)


def campaign_transition(
    *,
    campaign_id: int,
    action: str,
    changes: Mapping[str, Any] | None = None,
    conditions: tuple[Q | Expression, ...] = (),
) -> bool:
    """Apply `action` (its status and `changes`) if the database holds a status it may start
    from and `conditions` hold; True for the one caller that made it so."""
    transition = TRANSITIONS[action]
    values: dict[str, Any] = {"updated_at": timezone.now(), **(changes or {})}
    if transition.to_status is not None:
        values["status"] = transition.to_status
    return bool(campaigns_allowing(action).filter(pk=campaign_id).filter(*conditions).update(**values))


def campaign_conflict(campaign_id: int, action: str) -> StateConflictError:
    """The 409 for `action`, naming the status the database holds now."""
    current = Campaign.objects.filter(pk=campaign_id).values_list("status", flat=True).first()
    if current is None:
        return StateConflictError(f"Cannot {action}: the campaign no longer exists.")
    label = CampaignStatus(current).label.lower()
    return StateConflictError(f"Cannot {action} a campaign that is {label} ({current}).", extra={"status": current})
