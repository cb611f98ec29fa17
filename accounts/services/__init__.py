"""Every write to accounts' tables, one module per concern, re-exported here."""

from accounts.services.erasure import PersonErasure, erasure_listener_register, person_erase
from accounts.services.opt_outs import (
    OptOutChange,
    opt_out_listener_register,
    suppression_add,
    suppression_for,
    suppressions_add_many,
    user_opt_in,
    user_opt_out,
)
from accounts.services.reachability import ReachabilityRepair, reachability_repair, reachability_rule
from accounts.services.suppression_import import REASON_ALIASES, SuppressionImportReport, suppressions_import
from accounts.services.users import role_groups_sync, user_set_role

__all__ = [
    "REASON_ALIASES",
    "OptOutChange",
    "PersonErasure",
    "ReachabilityRepair",
    "SuppressionImportReport",
    "erasure_listener_register",
    "opt_out_listener_register",
    "person_erase",
    "reachability_repair",
    "reachability_rule",
    "role_groups_sync",
    "suppression_add",
    "suppression_for",
    "suppressions_add_many",
    "suppressions_import",
    "user_opt_in",
    "user_opt_out",
    "user_set_role",
]
