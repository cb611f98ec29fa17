"""The error answers every campaign endpoint shares, as the API schema documents them."""

from __future__ import annotations

from core.openapi import UNAUTHENTICATED, error_response

NOT_FOUND = error_response("No such campaign.")
ACCESS = {401: UNAUTHENTICATED, 403: error_response("Only the ADMIN role manages campaigns.")}
# The answers of an endpoint on one campaign.
ONE = {404: NOT_FOUND, **ACCESS}
