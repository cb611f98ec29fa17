"""Sent campaigns and their ledger rows, as the reporting tests set them up."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

from campaigns.models import Campaign, CampaignRecipient, CampaignStatus, RecipientStatus
from campaigns.tests.factories import CampaignFactory, CampaignRecipientFactory

START = datetime(2026, 10, 24, 22, 0, tzinfo=UTC)  # 23:00 BST, the night before clocks go back


def sent_campaign(**fields) -> Campaign:
    return CampaignFactory(
        status=fields.pop("status", CampaignStatus.SENT),
        started_at=fields.pop("started_at", START),
        sent_at=START + timedelta(minutes=5),
        audience_frozen_at=START,
        **fields,
    )


def row(campaign: Campaign, email: str, status: str = RecipientStatus.SENT, **times) -> CampaignRecipient:
    return CampaignRecipientFactory(campaign=campaign, email=email, status=status, **times)
