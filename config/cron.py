"""Periodic jobs, run by `python manage.py rqcron config.cron` (RQ's cron scheduler).

Each entry is a safety net over state kept in the database, so a missed or doubled tick is
harmless: the jobs re-read the database and act only on what is still due.
"""

from rq import cron

from accounts.jobs import expired_tokens_flush_job, reachability_repair_job
from campaigns.jobs import (
    campaign_reports_refresh_due,
    campaigns_decide_due,
    campaigns_dispatch_due,
    campaigns_watchdog,
    tracking_events_prune,
    tracking_events_retry,
)
from segments.jobs import segment_exports_recover_job, size_snapshots_job

# Sending campaigns whose jobs vanished (worker killed, Redis flushed) and batches stuck in flight.
cron.register(campaigns_watchdog, "default", interval=60)
# Scheduled campaigns whose time has passed, in case RQ's scheduler lost their job.
cron.register(campaigns_dispatch_due, "default", interval=60)
# A/B tests whose wait for the winner is over, in case RQ's scheduler lost their decision job.
cron.register(campaigns_decide_due, "default", interval=60)

# Tracking events stored by the webhook but not processed (Redis or a worker was down), and
# events that arrived before their batch recorded the message ids.
cron.register(tracking_events_retry, "default", interval=60)

# Processed tracking events past TRACKING_EVENT_RETENTION_DAYS, deleted in short batches (the
# ledger keeps what they recorded). Hourly, so each run has about an hour's worth to delete.
cron.register(tracking_events_prune, "default", interval=3600)

# Brevo list syncs whose worker died (RUNNING without a heartbeat) are failed, and queued ones
# whose job vanished with Redis are queued again.
cron.register(segment_exports_recover_job, "default", interval=60)

# Campaign reports (charts, the dashboard's rates) recomputed from the ledger when overdue.
cron.register(campaign_reports_refresh_due, "default", interval=300)

# Today's size snapshot of the audience and of each saved segment (charts of how they moved).
# Hourly, and a no-op once the day's rows exist, so a scheduler that was down catches up.
cron.register(size_snapshots_job, "default", interval=3600)

# Users whose `reachable` flag disagrees with the rule (two writes of one address racing each
# other's triggers, a restored dump): mended. Two passes over users, about two seconds at a million.
cron.register(reachability_repair_job, "default", interval=3600)

# Refresh tokens past their expiry (and their blacklist rows), kept only to refuse reuse until
# then: simplejwt's flushexpiredtokens, daily.
cron.register(expired_tokens_flush_job, "default", interval=86400)
