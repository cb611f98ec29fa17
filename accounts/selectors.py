"""Reads of accounts' tables that other apps need."""

from __future__ import annotations

from collections.abc import Iterable

from accounts.models import Erasure, erasure_hash


def erased_addresses(emails: Iterable[str]) -> set[str]:
    """Of these addresses, the ones (lower-cased) whose person was erased on request: one
    indexed query for any number of addresses."""
    by_hash = {erasure_hash(email): email for email in {email.strip().lower() for email in emails if email}}
    if not by_hash:
        return set()
    return {
        by_hash[found] for found in Erasure.objects.filter(email_hash__in=by_hash).values_list("email_hash", flat=True)
    }
