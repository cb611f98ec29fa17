"""Every write to campaigns, one module per concern, re-exported here."""

from campaigns.services.ab_tests import campaign_decide_winner, campaign_pick_winner, campaigns_decide_due
from campaigns.services.follow_ups import campaign_follow_up
from campaigns.services.lifecycle import (
    campaign_cancel,
    campaign_create,
    campaign_delete,
    campaign_duplicate,
    campaign_pause,
    campaign_resend,
    campaign_resume,
    campaign_send,
    campaign_start_when_due,
    campaign_unschedule,
    campaign_update,
    campaigns_dispatch_due,
)
from campaigns.services.sending import (
    campaign_fail,
    campaign_finish_if_done,
    campaign_retry_batch,
    campaign_send_batch,
    campaign_send_test,
    campaign_start,
    campaigns_watchdog,
    ledger_insert_audience,
)
from campaigns.services.tracking import (
    tracking_events_process,
    tracking_events_process_pending,
    tracking_events_reprocess,
    tracking_events_retry,
)
from campaigns.services.tracking_intake import tracking_events_store
from campaigns.services.unsubscribe import ledger_drop_unreachable, opt_out_record

__all__ = [
    "campaign_cancel",
    "campaign_create",
    "campaign_decide_winner",
    "campaign_delete",
    "campaign_duplicate",
    "campaign_fail",
    "campaign_finish_if_done",
    "campaign_follow_up",
    "campaign_pause",
    "campaign_pick_winner",
    "campaign_resend",
    "campaign_resume",
    "campaign_retry_batch",
    "campaign_send",
    "campaign_send_batch",
    "campaign_send_test",
    "campaign_start",
    "campaign_start_when_due",
    "campaign_unschedule",
    "campaign_update",
    "campaigns_decide_due",
    "campaigns_dispatch_due",
    "campaigns_watchdog",
    "ledger_drop_unreachable",
    "ledger_insert_audience",
    "opt_out_record",
    "tracking_events_process",
    "tracking_events_process_pending",
    "tracking_events_reprocess",
    "tracking_events_retry",
    "tracking_events_store",
]
