"""Follow-ups: a new draft aimed at a campaign's recipients by what they did with it."""

from __future__ import annotations

from django.db import transaction

from accounts.models import User
from campaigns.engagement import FOLLOW_UP_AUDIENCES, follow_up_criteria
from campaigns.models import Campaign
from campaigns.services.lifecycle import campaign_create, campaign_update
from campaigns.services.state_machine import campaign_action_allowed, campaign_conflict
from core.errors import InvalidInputError
from segments.models import Segment
from segments.services import segment_create

SEGMENT_NAME_LENGTH = Segment._meta.get_field("name").max_length or 200


@transaction.atomic
def campaign_follow_up(*, campaign: Campaign, by: User, audience: str, subject: str | None = None) -> Campaign:
    """A saved segment of the campaign's recipients who did (or did not) open or click it, and a
    DRAFT with the campaign's content, sender and preset aimed at that segment, in one transaction.

    409 unless the campaign is SENT, PAUSED or CANCELLED (it has recipients and stopped sending);
    400 naming `audience` or `subject` (kept from the campaign when not given).
    """
    if audience not in FOLLOW_UP_AUDIENCES:
        raise InvalidInputError(f"Choose one of {', '.join(FOLLOW_UP_AUDIENCES)}.", field="audience")
    # Locked, so the campaign cannot start sending again meanwhile, and two follow-ups of it
    # are made one after the other (each sees the other's segment name).
    locked = Campaign.objects.select_for_update().filter(pk=campaign.pk).first()
    if locked is None or not campaign_action_allowed(campaign=locked, action="follow_up"):
        raise campaign_conflict(campaign.pk, "follow up")
    label = FOLLOW_UP_AUDIENCES[audience][1]
    # The draft first: its content is checked before the segment's Brevo list is created.
    draft = campaign_create(
        by=by,
        name=f"{locked} — follow-up: {label}",
        subject=locked.subject if subject is None else subject,
        preheader=locked.preheader,
        body_html=locked.body_html,
        body_text=locked.body_text,
        from_email=locked.from_email,
        from_name=locked.from_name,
        reply_to=locked.reply_to,
        target_segment=locked.target_segment,
        # The original's frame, not whichever layout is the default now.
        layout=locked.layout,
    )
    segment = segment_create(
        by=by,
        name=_free_name(f"{locked} — {label}"),
        description=f"Recipients of campaign {locked.pk} (“{locked}”) who {label} it.",
        criteria=follow_up_criteria(campaign=locked, audience=audience),
    )
    return campaign_update(campaign=draft, changes={"segment": segment})


def _free_name(wanted: str) -> str:
    """`wanted`, or with " (2)", " (3)"... when a segment already has it (names ignore case)."""
    name, number = wanted[:SEGMENT_NAME_LENGTH], 1
    while Segment.objects.filter(name__iexact=name).exists():
        number += 1
        suffix = f" ({number})"
        name = wanted[: SEGMENT_NAME_LENGTH - len(suffix)] + suffix
    return name
