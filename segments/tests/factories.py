from __future__ import annotations

import factory
from django.utils import timezone

from accounts.tests.factories import UserFactory
from segments.models import AudienceSnapshot, ExportStatus, Membership, Segment, SegmentExport, SegmentSnapshot


class SegmentFactory(factory.django.DjangoModelFactory):
    """A saved segment written directly (no service, no validation): for setting up reads."""

    class Meta:
        model = Segment
        skip_postgeneration_save = True

    name = factory.Sequence(lambda n: f"Segment {n}")
    description = ""
    membership = Membership.ACTIVE
    created_by = factory.SubFactory(UserFactory, role="ADMIN")

    @factory.post_generation
    def properties(self, create: bool, extracted: list[object] | None, **kwargs: object) -> None:
        if create and extracted:
            self.properties.set(extracted)

    @factory.post_generation
    def agents(self, create: bool, extracted: list[object] | None, **kwargs: object) -> None:
        if create and extracted:
            self.agents.set(extracted)

    @factory.post_generation
    def partners(self, create: bool, extracted: list[object] | None, **kwargs: object) -> None:
        if create and extracted:
            self.partners.set(extracted)


class SegmentExportFactory(factory.django.DjangoModelFactory):
    class Meta:
        model = SegmentExport

    segment = factory.SubFactory(SegmentFactory)
    status = ExportStatus.SUCCESS
    users_count = 10


class SegmentSnapshotFactory(factory.django.DjangoModelFactory):
    class Meta:
        model = SegmentSnapshot

    segment = factory.SubFactory(SegmentFactory)
    day = factory.LazyFunction(timezone.localdate)
    matching = 0
    reachable = 0


class AudienceSnapshotFactory(factory.django.DjangoModelFactory):
    class Meta:
        model = AudienceSnapshot

    day = factory.LazyFunction(timezone.localdate)
    users = 0
    reachable = 0
    opted_out = 0
    suppressed = 0
