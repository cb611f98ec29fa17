"""Daily size snapshots: what one day's run records, that a second run the same day changes
nothing, that an interrupted run is finished by the next, and the 90-day chart."""

from __future__ import annotations

from datetime import date, timedelta

import pytest
from django.test import Client
from django.utils import timezone

from accounts.models import Role, SuppressionReason
from accounts.tests.factories import SuppressionFactory, UserFactory
from segments.jobs import size_snapshots_job
from segments.models import AudienceSnapshot, Membership, SegmentSnapshot
from segments.selectors import segment_size_history
from segments.services import size_snapshots_take
from segments.tests.factories import SegmentFactory, SegmentSnapshotFactory

pytestmark = pytest.mark.django_db

DAY = date(2026, 3, 29)


@pytest.fixture
def people() -> None:
    UserFactory.create_batch(3, state="London")
    UserFactory(state="London", is_verified=False)
    UserFactory(state="London", email_opted_out_at=timezone.now())
    suppressed = UserFactory(state="Leeds")
    SuppressionFactory(email=suppressed.email.lower(), reason=SuppressionReason.HARD_BOUNCE)


def test_a_day_records_the_audience_and_each_segment(people) -> None:
    londoners = SegmentFactory(name="Londoners", states=["London"], membership=Membership.ALL, created_by=None)
    leeds = SegmentFactory(name="Leeds", states=["Leeds"], membership=Membership.ALL, created_by=None)

    taken = size_snapshots_take(day=DAY)

    assert (taken.segments, taken.audience) == (2, True)
    audience = AudienceSnapshot.objects.get(day=DAY)
    assert (audience.users, audience.reachable, audience.opted_out, audience.suppressed) == (6, 3, 1, 1)
    sizes = {row.segment_id: (row.matching, row.reachable) for row in SegmentSnapshot.objects.filter(day=DAY)}
    assert sizes == {londoners.pk: (5, 3), leeds.pk: (1, 0)}
    # The segments' cached counts are refreshed on the way.
    londoners.refresh_from_db()
    assert (londoners.matching_count, londoners.reachable_count) == (5, 3)


def test_a_second_run_the_same_day_changes_nothing(people) -> None:
    segment = SegmentFactory(states=["London"], membership=Membership.ALL, created_by=None)
    size_snapshots_take(day=DAY)
    UserFactory.create_batch(2, state="London")

    again = size_snapshots_take(day=DAY)

    assert (again.segments, again.audience) == (0, False)
    assert SegmentSnapshot.objects.get(segment=segment, day=DAY).matching == 5
    assert AudienceSnapshot.objects.get(day=DAY).users == 6
    # The next day is a new row with the new size.
    size_snapshots_take(day=DAY + timedelta(days=1))
    assert SegmentSnapshot.objects.get(segment=segment, day=DAY + timedelta(days=1)).matching == 7


def test_an_interrupted_run_is_finished_by_the_next(people) -> None:
    first, second = SegmentFactory(states=["London"]), SegmentFactory(states=["Leeds"], created_by=None)
    # The earlier run got as far as the first segment.
    SegmentSnapshotFactory(segment=first, day=DAY, matching=99, reachable=99)

    taken = size_snapshots_take(day=DAY)

    assert taken.segments == 1
    assert SegmentSnapshot.objects.get(segment=first, day=DAY).matching == 99
    assert SegmentSnapshot.objects.filter(segment=second, day=DAY).count() == 1


def test_the_job_uses_the_site_day(settings, people) -> None:
    settings.TIME_ZONE = "Pacific/Auckland"
    SegmentFactory(states=["London"], created_by=None)

    report = size_snapshots_job()

    assert report == {"day": timezone.localdate().isoformat(), "segments": 1, "audience": True}
    assert size_snapshots_job() == {"day": timezone.localdate().isoformat(), "segments": 0, "audience": False}


def test_size_history_starts_at_the_first_snapshot_and_leaves_gaps() -> None:
    segment = SegmentFactory(name="Gaps", created_by=None)
    today = date(2026, 5, 10)
    for back, size in ((5, 10), (4, 12), (1, 15)):
        SegmentSnapshotFactory(segment=segment, day=today - timedelta(days=back), matching=size, reachable=size - 1)
    # Older than 90 days: outside the chart.
    SegmentSnapshotFactory(segment=segment, day=today - timedelta(days=120), matching=1, reachable=1)

    chart = segment_size_history(segment=segment, today=today)

    assert (chart.labels[0], chart.labels[-1]) == ("2026-05-05", "2026-05-10")
    assert [series.key for series in chart.series] == ["matching", "reachable"]
    assert list(chart.series[0].data) == [10, 12, None, None, 15, None]
    assert chart.rows()[0] == ["2026-05-05", 10, 9]


def test_segment_form_shows_the_chart_and_its_numbers(client: Client, make_user) -> None:
    client.force_login(make_user(Role.MANAGER))
    segment = SegmentFactory(name="Charted", states=["London"], created_by=None)
    SegmentSnapshotFactory(segment=segment, day=timezone.localdate(), matching=4, reachable=3)

    page = client.get(f"/admin/segments/segment/{segment.pk}/change/").content.decode()

    assert 'id="segment-size-history"' in page
    assert f'<script id="segment-{segment.pk}-size-data" type="application/json">' in page
    assert "vendor/chart.js-4.6.1/chart.umd.min.js" in page
    assert '<th scope="row">' + timezone.localdate().isoformat() + "</th>" in page


def test_segment_form_without_snapshots_says_when_the_first_comes(client: Client, make_user) -> None:
    client.force_login(make_user(Role.MANAGER))
    segment = SegmentFactory(name="New", created_by=None)

    page = client.get(f"/admin/segments/segment/{segment.pk}/change/").content.decode()

    assert "No daily snapshot yet" in page
