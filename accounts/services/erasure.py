"""Erasing a person on request (GDPR art. 17) while keeping them unreachable forever.

accounts deletes what it owns: the user row (its enrollments, leads and sessions' tokens go
with it), the plain suppression of the address, and the sign-in attempts logged under it. Apps
above keep personal data of their own (campaigns: ledger rows, tracking events, the history of
opt-outs; segments: Brevo list members); each registers an erasure listener from its
`AppConfig.ready()`, called first, in the same transaction, without accounts importing it.

What stays is an `Erasure` row: who erased, when, and the address's keyed hash, which
`User.save()` checks so the address is suppressed again if it ever signs up.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass

from axes.models import AccessAttempt, AccessFailureLog, AccessLog
from django.contrib.admin.models import LogEntry
from django.contrib.contenttypes.models import ContentType
from django.db import transaction

from accounts.models import Erasure, Suppression, User, erasure_hash
from core.errors import InvalidInputError


@dataclass(frozen=True)
class PersonErasure:
    """What the listeners receive: the address (lower-cased) and its user, if any is left."""

    email: str
    user: User | None


ErasureListener = Callable[[PersonErasure], None]
_erasure_listeners: list[ErasureListener] = []


def erasure_listener_register(listener: ErasureListener) -> None:
    """Call `listener` before accounts deletes the person, in the erasure's transaction.
    Registering twice keeps one entry."""
    if listener not in _erasure_listeners:
        _erasure_listeners.append(listener)


@transaction.atomic
def person_erase(*, email: str, by: User | None, via: str) -> Erasure:
    """Remove every trace of the person at `email` and keep the address unreachable as a hash.

    Running it again for the same address finds nothing more to remove and records another
    audit row. Staff cannot erase themselves (the audit row would lose who did it).
    """
    address = email.strip().lower()
    user = User.objects.filter(email__iexact=address).first()
    if by is not None and user is not None and by.pk == user.pk:
        raise InvalidInputError("You cannot erase yourself; ask another administrator.")
    erasure = PersonErasure(email=address, user=user)
    for listener in _erasure_listeners:
        listener(erasure)
    Suppression.objects.filter(email=address).delete()
    for log in (AccessAttempt, AccessLog, AccessFailureLog):
        log.objects.filter(username__iexact=address).delete()
    if user is not None:
        # The admin's history names the account in each entry's title.
        LogEntry.objects.filter(content_type=ContentType.objects.get_for_model(User), object_id=str(user.pk)).update(
            object_repr="(erased)"
        )
        user.delete()
    return Erasure.objects.create(email_hash=erasure_hash(address), erased_by=by, via=via)
