"""Fixtures the segments tests share."""

from __future__ import annotations

import pytest

from segments.models import Membership, Segment
from segments.tests.factories import SegmentFactory


@pytest.fixture
def spain(db: None) -> Segment:
    """Everyone in Spain, whatever their membership; created by no one."""
    return SegmentFactory(name="Spain", countries=["ES"], membership=Membership.ALL, created_by=None)


@pytest.fixture
def france(db: None) -> Segment:
    """Everyone in France, whatever their membership; created by no one."""
    return SegmentFactory(name="France", countries=["FR"], membership=Membership.ALL, created_by=None)


@pytest.fixture
def segment(spain: Segment) -> Segment:
    """The segment a test syncs, when the country does not matter to it."""
    return spain
