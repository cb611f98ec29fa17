"""Every write to campaigns, one module per concern, re-exported here."""

from campaigns.services.unsubscribe import suppression_add, suppression_for, user_opt_in, user_opt_out

__all__ = ["suppression_add", "suppression_for", "user_opt_in", "user_opt_out"]
