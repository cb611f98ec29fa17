"""segments' side of erasing a person (accounts.services.person_erase calls it first).

The address may be in Brevo lists that mirror segments. The person's user row is gone once the
erasure commits, so a sync of each such segment removes the address from its Brevo list and
then the `SegmentListMember` row that remembered it.
"""

from __future__ import annotations

import logging

from accounts.services import PersonErasure
from core.errors import StateConflictError
from segments.models import Segment, SegmentListMember
from segments.services.exports import SegmentSyncInProgressError, segment_sync_start

logger = logging.getLogger(__name__)


def person_erase_list_memberships(erasure: PersonErasure) -> None:
    """Queue a sync of every segment whose Brevo list holds the address (it runs after commit)."""
    segment_ids = SegmentListMember.objects.filter(email=erasure.email).values_list("segment_id", flat=True)
    for segment in Segment.objects.filter(pk__in=segment_ids):
        try:
            segment_sync_start(segment=segment, by=None)
        except SegmentSyncInProgressError:
            # The running sync may have read its members already: the next one removes the address.
            logger.warning("segment %s: a sync is running; the next one removes an erased address", segment.pk)
        except StateConflictError as error:
            if error.code != "brevo_not_configured":
                raise
            # Brevo is no longer configured: nothing can be removed there; forget the copy here.
            SegmentListMember.objects.filter(segment=segment, email=erasure.email).delete()
