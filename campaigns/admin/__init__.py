"""The staff UI for campaigns: the campaign page (`campaign`), its buttons (`buttons`) and live
answers (`live`), layouts (`layouts`), the sending pace (`pace`) and the read-only records behind
them (`records`). Every write calls the service the API calls."""

from campaigns.admin.campaign import CampaignAdmin
from campaigns.admin.layouts import LayoutAdmin
from campaigns.admin.pace import SendingPaceAdmin
from campaigns.admin.records import CampaignRecipientAdmin, SubscriptionChangeAdmin, TrackingEventAdmin

__all__ = [
    "CampaignAdmin",
    "CampaignRecipientAdmin",
    "LayoutAdmin",
    "SendingPaceAdmin",
    "SubscriptionChangeAdmin",
    "TrackingEventAdmin",
]
