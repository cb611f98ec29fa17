"""Batched, exactly-once sending: freeze the audience, claim batches, talk to Brevo, recover.

The ledger (`CampaignRecipient`) is the truth. A recipient is PENDING until a batch job claims
it (SENDING, with the batch's idempotency key), then SENT with Brevo's message id, FAILED with a
reason, CANCELLED, or UNKNOWN when Brevo may or may not have accepted it and its key has expired.

- One Brevo request per batch of up to CAMPAIGN_BATCH_SIZE recipients (one message version
  each), with one idempotency key per batch, reused for every retry of that batch: Brevo runs a
  request with a given key once (~30 minutes), so a retry after a lost answer cannot double.
- 429: wait for `x-sib-ratelimit-reset`, retry the same batch; never a recipient failure.
- 5xx, timeouts, dropped connections: retry with the same key and back-off, a few times; then
  the batch stays claimed and the watchdog retries it while the key is honoured, else UNKNOWN.
- A 400 naming one message version: that recipient FAILED, the rest resent under a new key
  (Brevo processed nothing, so a new key cannot double anything).
- Any other 4xx is about the campaign (sender, key, content): the campaign FAILS with the reason.

Without Brevo (no BREVO_API_KEY) the same batches are rendered here and handed to Django's mail
backend (the file outbox), one message per recipient.

One concern per module, in the order a campaign meets them:

- `snapshot`: the start job freezes the audience into the ledger and starts the batch chains;
- `claims`: a batch of pending rows is claimed under a new key;
- `batches`: the chain of batch jobs, and retries of a batch under its key;
- `delivery`: one batch to Brevo (or the local mail backend), its refusals handled;
- `ledger`: every write of an outcome to the ledger;
- `ending`: the campaign SENT when nothing is left, FAILED on a campaign-level fault;
- `watchdog`: recovery from lost jobs;
- `send_test`: test sends, outside the ledger.
"""

from campaigns.services.sending.batches import campaign_retry_batch, campaign_send_batch
from campaigns.services.sending.ending import campaign_fail, campaign_finish_if_done
from campaigns.services.sending.send_test import MAX_TEST_RECIPIENTS, campaign_send_test
from campaigns.services.sending.snapshot import campaign_start, ledger_insert_audience
from campaigns.services.sending.watchdog import WatchdogReport, campaigns_watchdog

__all__ = [
    "MAX_TEST_RECIPIENTS",
    "WatchdogReport",
    "campaign_fail",
    "campaign_finish_if_done",
    "campaign_retry_batch",
    "campaign_send_batch",
    "campaign_send_test",
    "campaign_start",
    "campaigns_watchdog",
    "ledger_insert_audience",
]
