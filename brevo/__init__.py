"""Everything that speaks to Brevo other than Anymail's sending backend, in one package.

- `brevo.config`: the one "is Brevo configured" check and the settings it reads;
- `brevo.answers`: the one exception type, and the reading of Brevo's answers (error bodies,
  `x-sib-ratelimit-reset`, what a refused send means), for the contacts client and sending;
- `brevo.contacts`: the contacts client (folders, lists, bulk imports, import processes).

It imports no project app: segments and campaigns build on it.
"""

from brevo.answers import (
    BrevoError,
    BrevoNotConfiguredError,
    SendRefusal,
    Trouble,
    on_trouble,
    rate_limit_reset,
    send_refusal,
)
from brevo.config import brevo_configured, configured_folder_id
from brevo.contacts import (
    MAX_EMAILS_PER_LIST_CHANGE,
    MAX_IMPORT_BODY_BYTES,
    BrevoClient,
    ImportBatch,
    ImportContact,
    brevo_client,
    brevo_sms,
)

__all__ = [
    "MAX_EMAILS_PER_LIST_CHANGE",
    "MAX_IMPORT_BODY_BYTES",
    "BrevoClient",
    "BrevoError",
    "BrevoNotConfiguredError",
    "ImportBatch",
    "ImportContact",
    "SendRefusal",
    "Trouble",
    "brevo_client",
    "brevo_configured",
    "brevo_sms",
    "configured_folder_id",
    "on_trouble",
    "rate_limit_reset",
    "send_refusal",
]
