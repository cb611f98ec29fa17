"""The error answers campaign endpoints share beyond those the schema class infers
(400, 401, 403, 404, 405, 406, 415, 429, 500): the 409 of a transition."""

from __future__ import annotations

from core.openapi import conflict

TRANSITION_CONFLICT = conflict(
    "`state_conflict`: the campaign's status forbids this; `status` names the status it is in."
)
