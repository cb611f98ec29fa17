"""Rows of the apps above segments that point at a segment, as deleting a segment must ask them.

segments may not import those apps (campaigns target segments), so each one registers its
answer from its `AppConfig.ready()`: `segment_delete` has it release its rows or refuse, and the
admin's delete confirmation lists the rows that block.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable
from dataclasses import dataclass

from django.db.models import Model

from segments.models import Segment


@dataclass(frozen=True)
class SegmentDependents:
    # Whose rows point at segments. They are detached, never deleted with a segment, so the
    # admin does not ask for permission to delete them.
    model: type[Model]
    # Inside segment_delete's transaction, with the segment row locked: lock the rows that point
    # at it, then raise a StateConflictError if one still depends on it, or else detach them all.
    release: Callable[[Segment], None]
    # One line per row that blocks deleting any of these segments, for the admin's confirmation.
    blockers: Callable[[Iterable[Segment]], list[str]]


_registered: list[SegmentDependents] = []


def segment_dependents_register(dependents: SegmentDependents) -> None:
    """Have segment deletion ask `dependents`; registering the same one twice keeps one entry."""
    if dependents not in _registered:
        _registered.append(dependents)


def segment_dependents() -> tuple[SegmentDependents, ...]:
    """Everything registered, in registration order."""
    return tuple(_registered)
