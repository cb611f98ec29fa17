"""RQ entry points for accounts: each calls one service."""

from __future__ import annotations

import logging

from django.core.management import call_command

from accounts.services import reachability_repair

logger = logging.getLogger(__name__)


def reachability_repair_job() -> dict[str, int]:
    """Hourly safety net: set `User.reachable` to the rule wherever they differ (see
    `accounts.services.reachability` for how they could)."""
    report = reachability_repair()
    if report.total:
        logger.warning(
            "Reachability flag mended for %d users (%d wrongly reachable, %d wrongly unreachable)",
            report.total,
            report.wrongly_reachable,
            report.wrongly_unreachable,
            extra={"wrongly_reachable": report.wrongly_reachable, "wrongly_unreachable": report.wrongly_unreachable},
        )
    return {"wrongly_reachable": report.wrongly_reachable, "wrongly_unreachable": report.wrongly_unreachable}


def expired_tokens_flush_job() -> None:
    """Daily: simplejwt's `flushexpiredtokens` deletes the refresh tokens past their expiry with
    their blacklist rows. An expired token is refused by its date alone, so its row proves
    nothing; without this the tables grow by every login and refresh forever."""
    call_command("flushexpiredtokens")
