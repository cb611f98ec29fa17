from __future__ import annotations

import factory
from django.utils import timezone

from accounts.models import (
    Enrollment,
    Lead,
    LeadStatus,
    MembershipStatus,
    Property,
    Role,
    Suppression,
    SuppressionReason,
    User,
)


class UserFactory(factory.django.DjangoModelFactory):
    class Meta:
        model = User
        skip_postgeneration_save = True

    email = factory.Sequence(lambda n: f"user{n}@example.com")
    first_name = factory.Faker("first_name")
    last_name = factory.Faker("last_name")
    role = Role.CLIENT
    membership_status = MembershipStatus.ACTIVE
    is_verified = True
    country = "GB"
    state = "London"
    referral_source = "google"

    @factory.post_generation
    def password(self, create: bool, extracted: str | None, **kwargs: object) -> None:
        self.set_password(extracted or "pw-Example-123")
        if create:
            self.save(update_fields=["password"])
            from accounts.services import user_set_role

            user_set_role(user=self)


class PropertyFactory(factory.django.DjangoModelFactory):
    class Meta:
        model = Property

    name = factory.Sequence(lambda n: f"Property {n}")
    code = factory.Sequence(lambda n: f"P{n:05d}")


class EnrollmentFactory(factory.django.DjangoModelFactory):
    class Meta:
        model = Enrollment

    user = factory.SubFactory(UserFactory)
    property = factory.SubFactory(PropertyFactory)
    agent = None


class LeadFactory(factory.django.DjangoModelFactory):
    class Meta:
        model = Lead

    user = factory.SubFactory(UserFactory)
    agent = factory.SubFactory(UserFactory, role=Role.AGENT)
    status = LeadStatus.CLOSED
    closed_at = factory.LazyFunction(timezone.now)


class SuppressionFactory(factory.django.DjangoModelFactory):
    class Meta:
        model = Suppression

    email = factory.Sequence(lambda n: f"suppressed{n}@example.com")
    reason = SuppressionReason.MANUAL
