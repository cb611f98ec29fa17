"""A campaign's life: drafts, scheduling, pause / resume / cancel, failure, operator resends.

Every transition is one conditional UPDATE (`... WHERE status IN (allowed)`), so two requests
racing for the same transition cannot both win: the loser gets a 409 naming the current status.
Work for the queue is enqueued when the transaction commits (django-rq's default inside
`atomic`), so a job never looks for a state that was rolled back.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from datetime import datetime
from typing import Any

import django_rq
from django.db import transaction
from django.db.models import Q
from django.utils import timezone

from accounts.models import User
from campaigns.content import readable_subject, validate_campaign_content
from campaigns.models import Campaign, CampaignRecipient, CampaignStatus, RecipientStatus
from campaigns.selectors import campaign_audience_problem
from core.errors import InvalidInputError, StateConflictError
from segments.models import Membership, Segment

# Fields staff may set; every other column is the pipeline's.
EDITABLE_FIELDS = (
    "name",
    "subject",
    "preheader",
    "body_html",
    "body_text",
    "from_email",
    "from_name",
    "reply_to",
    "target_segment",
    "segment",
)


def _conflict(campaign_id: int, action: str) -> StateConflictError:
    """The 409 for `action`, naming the status the database holds now."""
    current = Campaign.objects.filter(pk=campaign_id).values_list("status", flat=True).first()
    if current is None:
        return StateConflictError(f"Cannot {action}: the campaign no longer exists.")
    label = CampaignStatus(current).label.lower()
    return StateConflictError(f"Cannot {action} a campaign that is {label} ({current}).", extra={"status": current})


# The state machine: which statuses each staff action starts from. The services enforce it (in
# the database) and the admin reads it to offer only the buttons that can succeed.
ACTION_FROM_STATUSES: dict[str, tuple[str, ...]] = {
    "edit": (CampaignStatus.DRAFT,),
    "delete": (CampaignStatus.DRAFT,),
    "send": (CampaignStatus.DRAFT,),
    "schedule": (CampaignStatus.DRAFT,),
    "unschedule": (CampaignStatus.SCHEDULED,),
    "pause": (CampaignStatus.SENDING,),
    "resume": (CampaignStatus.PAUSED,),
    "cancel": (CampaignStatus.SENDING, CampaignStatus.PAUSED),
    "duplicate": tuple(CampaignStatus),
    # The system's: a scheduled campaign whose audience is empty when it becomes due.
    "fail_when_due": (CampaignStatus.SCHEDULED,),
}


def campaign_action_allowed(*, campaign: Campaign, action: str) -> bool:
    """Whether `action` may start from the campaign's current status."""
    return campaign.status in ACTION_FROM_STATUSES[action]


def _transition(campaign: Campaign, *, action: str, changes: Mapping[str, Any], extra: Q | None = None) -> Campaign:
    """Apply `changes` only if `action` may start from the campaign's status (decided by the database)."""
    rows = Campaign.objects.filter(pk=campaign.pk, status__in=ACTION_FROM_STATUSES[action])
    if extra is not None:
        rows = rows.filter(extra)
    if not rows.update(**changes, updated_at=timezone.now()):
        raise _conflict(campaign.pk, action)
    campaign.refresh_from_db()
    return campaign


def _enqueue(function: str, *args: object) -> None:
    # Functions are named by path: jobs import services, and Redis only stores the name anyway.
    django_rq.get_queue("default").enqueue(function, *args)


def _check_content(values: Mapping[str, Any]) -> None:
    validate_campaign_content(
        subject=values.get("subject") or "",
        preheader=values.get("preheader") or "",
        body_html=values.get("body_html") or "",
        body_text=values.get("body_text") or "",
    )
    if not (values.get("subject") or "").strip():
        raise InvalidInputError("The subject is required.", field="subject")
    if values.get("target_segment", Membership.ALL) not in Membership.values:
        raise InvalidInputError(f"Choose one of {', '.join(Membership.values)}.", field="target_segment")


def _name_for(values: Mapping[str, Any]) -> str:
    """The campaign's name as given, else one made from its subject (placeholders as words)."""
    name = (values.get("name") or "").strip()
    max_length = Campaign._meta.get_field("name").max_length or 200
    return (name or readable_subject(values.get("subject") or ""))[:max_length]


def _check_audience(campaign: Campaign) -> None:
    """The one empty-audience rule for sending and scheduling: refuse, saying why."""
    problem = campaign_audience_problem(campaign=campaign)
    if problem:
        # Reported on `segment`, the audience field API clients already read this error from.
        raise InvalidInputError(f"Nobody in this audience can be emailed: {problem}", field="segment")


def campaign_create(
    *,
    by: User,
    subject: str,
    body_html: str,
    name: str = "",
    preheader: str = "",
    body_text: str = "",
    from_email: str = "",
    from_name: str = "",
    reply_to: str = "",
    target_segment: str = Membership.ALL,
    segment: Segment | None = None,
) -> Campaign:
    """A new DRAFT written by `by`; placeholders are checked here (400 naming the field). Without a
    name, the subject (placeholders as words) names it."""
    values = {
        "name": name,
        "subject": subject,
        "body_html": body_html,
        "preheader": preheader,
        "body_text": body_text,
        "from_email": from_email,
        "from_name": from_name,
        "reply_to": reply_to,
        "target_segment": target_segment,
        "segment": segment,
    }
    _check_content(values)
    values["name"] = _name_for(values)
    return Campaign.objects.create(**values, created_by=by, status=CampaignStatus.DRAFT)


def campaign_update(*, campaign: Campaign, changes: Mapping[str, Any]) -> Campaign:
    """Edit a DRAFT (409 in any other status); the content is re-checked as a whole."""
    unknown = set(changes) - set(EDITABLE_FIELDS)
    if unknown:
        raise InvalidInputError(f"Not editable: {', '.join(sorted(unknown))}.")
    merged = {name: getattr(campaign, name) for name in EDITABLE_FIELDS} | dict(changes)
    _check_content(merged)
    changes = dict(changes)
    if "name" in changes or not merged["name"]:
        changes["name"] = _name_for(merged)
    return _transition(campaign, action="edit", changes=changes)


def campaign_duplicate(*, campaign: Campaign, by: User) -> Campaign:
    """A new DRAFT with the campaign's content, sender and audience, named "Copy of ...", from
    any status; never its schedule, ledger, results or status. The subject is kept as written:
    recipients read it, so a marker there would reach their inboxes."""
    values = {name: getattr(campaign, name) for name in EDITABLE_FIELDS}
    values["name"] = f"Copy of {campaign}"
    return campaign_create(by=by, **values)


def campaign_delete(*, campaign: Campaign) -> None:
    """Delete a DRAFT (409 once it was scheduled or sent: its history stays)."""
    deleted, _ = Campaign.objects.filter(pk=campaign.pk, status__in=ACTION_FROM_STATUSES["delete"]).delete()
    if not deleted:
        raise _conflict(campaign.pk, "delete")


@transaction.atomic
def campaign_send(*, campaign: Campaign, by: User, scheduled_at: datetime | None = None) -> Campaign:
    """DRAFT -> SENDING now, or -> SCHEDULED for `scheduled_at` (which must be in the future).

    Sending starts with the start job, which freezes the audience into the ledger.
    """
    now = timezone.now()
    _check_content({name: getattr(campaign, name) for name in EDITABLE_FIELDS})
    if scheduled_at is not None:
        if timezone.is_naive(scheduled_at):
            raise InvalidInputError("Give a time zone (e.g. 2030-01-01T09:00:00Z).", field="scheduled_at")
        if scheduled_at <= now:
            raise InvalidInputError("The scheduled time must be in the future.", field="scheduled_at")
        if campaign.status == CampaignStatus.DRAFT:
            _check_audience(campaign)
        campaign = _transition(
            campaign,
            action="schedule",
            changes={"status": CampaignStatus.SCHEDULED, "scheduled_at": scheduled_at},
        )
        campaign_id = campaign.pk
        # RQ's scheduler starts it on time; `dispatch_due_campaigns` is the safety net.
        transaction.on_commit(
            lambda: django_rq.get_queue("default").enqueue_at(
                scheduled_at, "campaigns.jobs.campaign_start_when_due", campaign_id
            )
        )
        return campaign
    if campaign.status == CampaignStatus.DRAFT:
        _check_audience(campaign)
    campaign = _transition(
        campaign,
        action="send",
        changes={"status": CampaignStatus.SENDING, "started_at": now, "scheduled_at": None, "last_claim_at": now},
    )
    _enqueue("campaigns.jobs.campaign_start", campaign.pk)
    return campaign


def campaign_unschedule(*, campaign: Campaign) -> Campaign:
    """SCHEDULED -> DRAFT; the pending RQ job finds nothing due and does nothing."""
    return _transition(
        campaign,
        action="unschedule",
        changes={"status": CampaignStatus.DRAFT, "scheduled_at": None},
    )


def campaign_start_when_due(*, campaign_id: int, now: datetime | None = None) -> bool:
    """SCHEDULED -> SENDING if its time has come; True for the one caller that made it so.

    An audience that became empty while it waited ends the campaign as FAILED with the reason
    (never "sent to 0"), by the same rule that refuses to send or schedule it.
    """
    now = now or timezone.now()
    due = Campaign.objects.filter(pk=campaign_id, status=CampaignStatus.SCHEDULED, scheduled_at__lte=now)
    campaign = due.select_related("segment").first()
    if campaign is None:
        return False
    problem = campaign_audience_problem(campaign=campaign)
    if problem:
        Campaign.objects.filter(
            pk=campaign_id, status__in=ACTION_FROM_STATUSES["fail_when_due"], scheduled_at__lte=now
        ).update(
            status=CampaignStatus.FAILED,
            status_reason=f"Not sent: nobody in the audience could be emailed when it became due. {problem}",
            updated_at=now,
        )
        return False
    with transaction.atomic():
        started = due.update(status=CampaignStatus.SENDING, started_at=now, last_claim_at=now, updated_at=now)
        if started:
            _enqueue("campaigns.jobs.campaign_start", campaign_id)
    return bool(started)


def campaigns_dispatch_due(*, now: datetime | None = None) -> list[int]:
    """Start every SCHEDULED campaign whose time has passed (the sweep behind RQ's scheduler)."""
    now = now or timezone.now()
    due = Campaign.objects.filter(status=CampaignStatus.SCHEDULED, scheduled_at__lte=now).values_list("pk", flat=True)
    return [campaign_id for campaign_id in list(due) if campaign_start_when_due(campaign_id=campaign_id, now=now)]


def campaign_pause(*, campaign: Campaign) -> Campaign:
    """SENDING -> PAUSED: no batch is claimed after this; a batch already in flight completes."""
    return _transition(campaign, action="pause", changes={"status": CampaignStatus.PAUSED})


@transaction.atomic
def campaign_resume(*, campaign: Campaign) -> Campaign:
    """PAUSED -> SENDING, and the batch chains start again."""
    campaign = _transition(
        campaign,
        action="resume",
        changes={"status": CampaignStatus.SENDING, "last_claim_at": timezone.now()},
    )
    _enqueue("campaigns.jobs.campaign_start", campaign.pk)
    return campaign


@transaction.atomic
def campaign_cancel(*, campaign: Campaign) -> Campaign:
    """SENDING / PAUSED -> CANCELLED; recipients still pending are never sent (CANCELLED)."""
    campaign = _transition(
        campaign,
        action="cancel",
        changes={"status": CampaignStatus.CANCELLED},
    )
    CampaignRecipient.objects.filter(campaign=campaign, status=RecipientStatus.PENDING).update(
        status=RecipientStatus.CANCELLED, last_error="Campaign cancelled before this recipient was sent."
    )
    return campaign


@transaction.atomic
def campaign_fail(*, campaign_id: int, reason: str) -> bool:
    """SENDING / PAUSED -> FAILED for a campaign-level fault (say Brevo refuses the sender).

    Recipients not yet sent become FAILED with the reason, so an operator can fix the cause and
    send them with `resend_campaign --failed`. True if this call failed the campaign.
    """
    failed = Campaign.objects.filter(pk=campaign_id, status__in=[CampaignStatus.SENDING, CampaignStatus.PAUSED]).update(
        status=CampaignStatus.FAILED, status_reason=reason, updated_at=timezone.now()
    )
    if failed:
        CampaignRecipient.objects.filter(campaign_id=campaign_id, status=RecipientStatus.PENDING).update(
            status=RecipientStatus.FAILED, last_error=f"Not sent: the campaign failed. {reason}"
        )
    return bool(failed)


@dataclass(frozen=True)
class ResendResult:
    requeued: int
    added: int
    status: str


# Campaigns an operator may send more of: finished ones go back to SENDING, running ones just
# get more pending rows. Drafts have no ledger yet; cancelled ones were stopped on purpose.
RESENDABLE = (CampaignStatus.SENT, CampaignStatus.FAILED, CampaignStatus.SENDING, CampaignStatus.PAUSED)


@transaction.atomic
def campaign_resend(
    *, campaign: Campaign, failed: bool = False, unknown: bool = False, new_members: bool = False
) -> ResendResult:
    """Put FAILED and/or UNKNOWN recipients back in the queue, and/or add audience members who
    joined after sending began; SENT / FAILED campaigns go back to SENDING if anything is to send.

    UNKNOWN recipients may already have the message: resending them is the operator's call.
    """
    from campaigns.services.sending import ledger_insert_audience

    locked = Campaign.objects.select_for_update().get(pk=campaign.pk)
    if locked.status not in RESENDABLE:
        raise _conflict(campaign.pk, "resend")
    statuses = [
        status for flag, status in ((failed, RecipientStatus.FAILED), (unknown, RecipientStatus.UNKNOWN)) if flag
    ]
    requeued = 0
    if statuses:
        requeued = CampaignRecipient.objects.filter(campaign=locked, status__in=statuses).update(
            status=RecipientStatus.PENDING,
            batch_key=None,
            claimed_at=None,
            attempted_at=None,
            message_id="",
        )
    added = ledger_insert_audience(campaign=locked) if new_members and locked.audience_frozen_at else 0
    if requeued or added:
        now = timezone.now()
        changes: dict[str, Any] = {"last_claim_at": now, "updated_at": now}
        if locked.status in (CampaignStatus.SENT, CampaignStatus.FAILED):
            changes.update(status=CampaignStatus.SENDING, sent_at=None, status_reason="")
        Campaign.objects.filter(pk=locked.pk).update(**changes)
        if changes.get("status", locked.status) == CampaignStatus.SENDING:
            _enqueue("campaigns.jobs.campaign_start", locked.pk)
    campaign.refresh_from_db()
    return ResendResult(requeued=requeued, added=added, status=campaign.status)
