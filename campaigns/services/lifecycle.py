"""A campaign's life: drafts, scheduling, pause / resume / cancel, operator resends.

Every transition goes through the state machine's table (`state_machine.TRANSITIONS`): one
conditional UPDATE, so two requests racing for the same transition cannot both win and the loser
gets a 409 naming the current status. Work for the queue goes through `campaigns.queue`, which
enqueues when the transaction commits, so a job never looks for a state that was rolled back.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from datetime import datetime
from typing import Any, Literal

from django.db import transaction
from django.db.models import CharField, Q
from django.utils import timezone

from accounts.models import User
from campaigns import queue
from campaigns.content import readable_subject, validate_campaign_content
from campaigns.engagement import segments_naming
from campaigns.models import (
    AB_TEST_SHARE_DEFAULT,
    AB_WAIT_MINUTES_DEFAULT,
    Campaign,
    CampaignRecipient,
    CampaignStatus,
    Layout,
    RecipientStatus,
    WinnerMetric,
)
from campaigns.selectors import campaign_audience, campaign_audience_problem
from campaigns.services.layouts import layout_default
from campaigns.services.sending.snapshot import ab_test_size, ledger_insert_audience
from campaigns.services.state_machine import (
    campaign_action_allowed,
    campaign_conflict,
    campaign_transition,
    campaigns_allowing,
)
from campaigns.services.variants import (
    AB_FIELDS,
    ab_settings_check,
    campaign_variants_replace,
    campaign_variants_values,
    variants_check,
)
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
    "layout",
    "archive",
    *AB_FIELDS,
)
# `campaign_create(layout=DEFAULT_LAYOUT)`: the layout marked default, if any.
DEFAULT_LAYOUT: Literal["default"] = "default"


def _transition(campaign: Campaign, *, action: str, changes: Mapping[str, Any]) -> Campaign:
    """Apply a staff action, or raise the 409 naming the status the database holds now."""
    if not campaign_transition(campaign_id=campaign.pk, action=action, changes=changes):
        raise campaign_conflict(campaign.pk, action)
    campaign.refresh_from_db()
    return campaign


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
    """The one empty-audience rule for sending and scheduling: refuse, saying why. An A/B test
    also needs a test share that gives every variant at least one recipient."""
    problem = campaign_audience_problem(campaign=campaign)
    if problem:
        # Reported on `segment`, the audience field API clients already read this error from.
        raise InvalidInputError(f"Nobody in this audience can be emailed: {problem}", field="segment")
    variants = campaign.variants.count()
    if variants:
        audience = campaign_audience(campaign=campaign).count()
        tested = ab_test_size(audience=audience, share=campaign.ab_test_share)
        if tested < variants:
            raise InvalidInputError(
                f"Too small for an A/B test of {variants} variants: {campaign.ab_test_share} % of "
                f"{audience:,} recipients is {tested}, and every variant needs at least one. "
                "Raise the test share or widen the audience.",
                field="ab_test_share",
            )


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
    layout: Layout | Literal["default"] | None = DEFAULT_LAYOUT,
    archive: bool = False,
    variants: Sequence[Mapping[str, str]] = (),
    ab_test_share: int = AB_TEST_SHARE_DEFAULT,
    ab_winner_metric: str = WinnerMetric.OPENS,
    ab_wait_minutes: int = AB_WAIT_MINUTES_DEFAULT,
    ab_require_significance: bool = True,
) -> Campaign:
    """A new DRAFT written by `by`; placeholders are checked here (400 naming the field). Without a
    name, the subject (placeholders as words) names it; without a layout, the default one frames it.
    With 2 to 4 `variants` it is an A/B test, run by the `ab_` settings."""
    ab_settings = {
        "ab_test_share": ab_test_share,
        "ab_winner_metric": ab_winner_metric,
        "ab_wait_minutes": ab_wait_minutes,
        "ab_require_significance": ab_require_significance,
    }
    values = {
        "layout": layout_default() if layout == DEFAULT_LAYOUT else layout,
        "archive": archive,
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
    ab_settings_check(ab_settings)
    checked = variants_check(values, variants)
    values["name"] = _name_for(values)
    with transaction.atomic():
        campaign = Campaign.objects.create(**values, **ab_settings, created_by=by, status=CampaignStatus.DRAFT)
        campaign_variants_replace(campaign=campaign, variants=checked)
    return campaign


def campaign_update(*, campaign: Campaign, changes: Mapping[str, Any]) -> Campaign:
    """Edit a DRAFT (409 in any other status); the content is re-checked as a whole, variants
    included. `variants` (a list) replaces them all; [] ends the A/B test. `archive` alone may
    change until the campaign is sent."""
    changes = dict(changes)
    new_variants = changes.pop("variants", None)
    unknown = set(changes) - set(EDITABLE_FIELDS)
    if unknown:
        raise InvalidInputError(f"Not editable: {', '.join(sorted(unknown))}.")
    if set(changes) == {"archive"} and new_variants is None:
        # The one setting that stays open after the draft: whether the archive shows it once sent.
        return _transition(campaign, action="archive", changes=changes)
    merged = {name: getattr(campaign, name) for name in EDITABLE_FIELDS} | changes
    _check_content(merged)
    ab_settings_check(merged)
    # Variants kept as they are are checked again too: the content they inherit may have changed.
    checked = variants_check(merged, campaign_variants_values(campaign) if new_variants is None else new_variants)
    if "name" in changes or not merged["name"]:
        changes["name"] = _name_for(merged)
    with transaction.atomic():
        campaign = _transition(campaign, action="edit", changes=changes)
        if new_variants is not None:
            campaign_variants_replace(campaign=campaign, variants=checked)
    return campaign


@dataclass(frozen=True)
class DuplicateResult:
    campaign: Campaign
    # What the copy does differently from the original, in staff's words (say, a deleted segment).
    notices: tuple[str, ...] = ()


def _with_prefix(text: str, *, field: str) -> str:
    column = Campaign._meta.get_field(field)
    assert isinstance(column, CharField)
    return f"Copy of {text}"[: column.max_length]


def campaign_duplicate(*, campaign: Campaign, by: User, subject: str | None = None) -> DuplicateResult:
    """A new DRAFT with the campaign's content, sender and audience, from any status; never its
    schedule, ledger, results or status. Name and subject read "Copy of ..." unless a `subject`
    is given. A segment deleted since leaves the copy aimed at the preset alone, and says so.
    An A/B test's variants and settings are copied, never its decision."""
    values: dict[str, Any] = {name: getattr(campaign, name) for name in EDITABLE_FIELDS}
    values["variants"] = campaign_variants_values(campaign)
    values["name"] = _with_prefix(str(campaign), field="name")
    values["subject"] = subject if subject is not None else _with_prefix(campaign.subject, field="subject")
    notices: list[str] = []
    if campaign.segment_id is None and campaign.deleted_segment_name:
        preset = Membership(campaign.target_segment).label
        notices.append(
            f"The segment “{campaign.deleted_segment_name}” was deleted: the copy goes to all of “{preset}”. "
            "Pick a segment before sending it if that is too wide."
        )
    return DuplicateResult(campaign=campaign_create(by=by, **values), notices=tuple(notices))


def campaign_delete(*, campaign: Campaign) -> None:
    """Delete a DRAFT (409 once it was scheduled or sent: its history stays), unless a segment's
    engagement criteria name it (409 naming the segments)."""
    # Criteria may only name campaigns that began sending, which are never deletable, so the
    # check below is the rule's second line, for a campaign named before the rule or by hand.
    if naming := segments_naming(campaign.pk):
        raise StateConflictError(
            f"Cannot delete campaign “{campaign}”: the criteria of segment(s) "
            f"{', '.join(f'“{segment.name}”' for segment in naming)} name it; change their criteria first.",
            extra={"segments": [segment.pk for segment in naming]},
        )
    deleted, _ = campaigns_allowing("delete").filter(pk=campaign.pk).delete()
    if not deleted:
        raise campaign_conflict(campaign.pk, "delete")


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
        campaign = _transition(campaign, action="schedule", changes={"scheduled_at": scheduled_at})
        queue.enqueue_campaign_start_when_due(campaign.pk, at=scheduled_at)
        return campaign
    if campaign.status == CampaignStatus.DRAFT:
        _check_audience(campaign)
    campaign = _transition(
        campaign,
        action="send",
        changes={"started_at": now, "scheduled_at": None, "last_claim_at": now},
    )
    queue.enqueue_campaign_start(campaign.pk)
    return campaign


def campaign_unschedule(*, campaign: Campaign) -> Campaign:
    """SCHEDULED -> DRAFT; the pending RQ job finds nothing due and does nothing."""
    return _transition(campaign, action="unschedule", changes={"scheduled_at": None})


def campaign_start_when_due(*, campaign_id: int, now: datetime | None = None) -> bool:
    """SCHEDULED -> SENDING if its time has come; True for the one caller that made it so.

    An audience that became empty while it waited ends the campaign as FAILED with the reason
    (never "sent to 0"), by the same rule that refuses to send or schedule it.
    """
    now = now or timezone.now()
    due = campaigns_allowing("start_when_due").filter(pk=campaign_id, scheduled_at__lte=now)
    campaign = due.select_related("segment").first()
    if campaign is None:
        return False
    problem = campaign_audience_problem(campaign=campaign)
    if problem:
        campaign_transition(
            campaign_id=campaign_id,
            action="fail_when_due",
            changes={
                "status_reason": f"Not sent: nobody in the audience could be emailed when it became due. {problem}",
                "updated_at": now,
            },
            conditions=(Q(scheduled_at__lte=now),),
        )
        return False
    with transaction.atomic():
        started = campaign_transition(
            campaign_id=campaign_id,
            action="start_when_due",
            changes={"started_at": now, "last_claim_at": now, "updated_at": now},
            conditions=(Q(scheduled_at__lte=now),),
        )
        if started:
            queue.enqueue_campaign_start(campaign_id)
    return started


def campaigns_dispatch_due(*, now: datetime | None = None) -> list[int]:
    """Start every SCHEDULED campaign whose time has passed (the sweep behind RQ's scheduler)."""
    now = now or timezone.now()
    due = campaigns_allowing("start_when_due").filter(scheduled_at__lte=now).values_list("pk", flat=True)
    return [campaign_id for campaign_id in list(due) if campaign_start_when_due(campaign_id=campaign_id, now=now)]


def campaign_pause(*, campaign: Campaign) -> Campaign:
    """SENDING -> PAUSED: no batch is claimed after this; a batch already in flight completes."""
    return _transition(campaign, action="pause", changes={})


@transaction.atomic
def campaign_resume(*, campaign: Campaign) -> Campaign:
    """PAUSED -> SENDING, and the batch chains start again (a pause Brevo caused included: its
    reason is cleared, and its recipients, still pending, go out now)."""
    campaign = _transition(
        campaign,
        action="resume",
        changes={"last_claim_at": timezone.now(), "status_reason": "", "waiting_until": None, "waiting_for": ""},
    )
    queue.enqueue_campaign_start(campaign.pk)
    return campaign


@transaction.atomic
def campaign_cancel(*, campaign: Campaign) -> Campaign:
    """SENDING / WAITING_FOR_WINNER / PAUSED -> CANCELLED; recipients still pending, or held for
    an A/B winner, are never sent (CANCELLED)."""
    campaign = _transition(campaign, action="cancel", changes={})
    unsent = [RecipientStatus.PENDING, RecipientStatus.HELD]
    CampaignRecipient.objects.filter(campaign=campaign, status__in=unsent).update(
        status=RecipientStatus.CANCELLED, last_error="Campaign cancelled before this recipient was sent."
    )
    return campaign


@dataclass(frozen=True)
class ResendResult:
    requeued: int
    added: int
    status: str


@transaction.atomic
def campaign_resend(
    *, campaign: Campaign, failed: bool = False, unknown: bool = False, new_members: bool = False
) -> ResendResult:
    """Put FAILED and/or UNKNOWN recipients back in the queue, and/or add audience members who
    joined after sending began; SENT / FAILED campaigns go back to SENDING if anything is to send.

    UNKNOWN recipients may already have the message: resending them is the operator's call.
    """
    locked = Campaign.objects.select_for_update().get(pk=campaign.pk)
    if not campaign_action_allowed(campaign=locked, action="resend"):
        raise campaign_conflict(campaign.pk, "resend")
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
    added = 0
    if new_members and locked.audience_frozen_at:
        # In an A/B test, people who joined since join the remainder (the winner, or held for
        # it); a pure split deals them to the variants in turn.
        added = ledger_insert_audience(campaign=locked, test_share=100 if locked.ab_test_share == 100 else 0)
    if requeued or added:
        now = timezone.now()
        changes: dict[str, Any] = {"last_claim_at": now, "updated_at": now}
        # The row is locked, so the transition cannot lose a race: a finished campaign is
        # reopened (back to SENDING), a running or paused one only gets the new rows.
        reopen = campaign_action_allowed(campaign=locked, action="reopen")
        if reopen:
            changes.update(sent_at=None, status_reason="")
        campaign_transition(campaign_id=locked.pk, action="reopen" if reopen else "resend", changes=changes)
        if reopen or locked.status == CampaignStatus.SENDING:
            queue.enqueue_campaign_start(locked.pk)
    campaign.refresh_from_db()
    return ResendResult(requeued=requeued, added=added, status=campaign.status)
