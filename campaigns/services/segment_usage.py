"""Campaigns' answer when a segment is deleted, registered with `segments.dependents` in
`CampaignsConfig.ready()`: a campaign that still depends on the segment refuses it."""

from __future__ import annotations

from collections.abc import Iterable

from campaigns.models import Campaign, CampaignStatus
from core.errors import StateConflictError
from segments.models import Segment

# Campaigns that still depend on the segment's audience. A DRAFT counts: dropping its segment
# would silently widen the draft to the whole preset audience.
CAMPAIGN_STATUSES_USING_SEGMENT = (
    CampaignStatus.DRAFT,
    CampaignStatus.SCHEDULED,
    CampaignStatus.SENDING,
    CampaignStatus.PAUSED,
)


def segment_campaigns_release(segment: Segment) -> None:
    """Refuse (409) while a draft or unfinished campaign targets `segment`; otherwise detach the
    finished ones (sent, cancelled, failed), which keep their frozen recipients ledger. The
    campaigns are locked, so none can start using the segment meanwhile."""
    campaigns = list(
        Campaign.objects.select_for_update().filter(segment=segment).order_by("pk").values_list("pk", "status")
    )
    in_use = [pk for pk, status in campaigns if status in CAMPAIGN_STATUSES_USING_SEGMENT]
    if in_use:
        raise StateConflictError(
            f"Segment “{segment.name}” is used by draft, scheduled, sending or paused campaign(s) "
            f"{', '.join(map(str, in_use))}; change their segment or finish them first.",
            extra={"campaigns": in_use},
        )
    if campaigns:
        Campaign.objects.filter(segment=segment).update(segment=None, deleted_segment_name=segment.name)


def segment_campaigns_blocking(segments: Iterable[Segment]) -> list[str]:
    """The campaigns that block deleting any of `segments`, one line each for the admin."""
    blocking = Campaign.objects.filter(segment__in=segments, status__in=CAMPAIGN_STATUSES_USING_SEGMENT)
    return [f"Campaign: {campaign} ({campaign.get_status_display()})" for campaign in blocking]
