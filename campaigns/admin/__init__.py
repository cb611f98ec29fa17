"""The staff UI for campaigns: the campaign page (`campaign`), its live answers (`live`) and
the read-only records behind it (`records`). Every write calls the service the API calls."""

from campaigns.admin.campaign import CampaignAdmin
from campaigns.admin.layouts import LayoutAdmin
from campaigns.admin.records import CampaignRecipientAdmin, SubscriptionChangeAdmin, TrackingEventAdmin

__all__ = ["CampaignAdmin", "CampaignRecipientAdmin", "LayoutAdmin", "SubscriptionChangeAdmin", "TrackingEventAdmin"]
