import pytest
from django.db import IntegrityError

from accounts.models import Role, User
from accounts.tests.factories import EnrollmentFactory, PropertyFactory, UserFactory

pytestmark = pytest.mark.django_db


def test_email_is_unique_regardless_of_case():
    UserFactory(email="Ada@Example.com")
    with pytest.raises(IntegrityError):
        UserFactory(email="ada@example.com")


def test_login_lookup_ignores_case():
    user = UserFactory(email="Grace@Example.com")
    assert User.objects.get_by_natural_key("grace@example.COM") == user


@pytest.mark.parametrize(
    ("role", "is_staff"),
    [(Role.ADMIN, True), (Role.MANAGER, True), (Role.STAFF, False), (Role.AGENT, False), (Role.CLIENT, False)],
)
def test_is_staff_follows_role(role, is_staff):
    assert UserFactory(role=role).is_staff is is_staff


def test_superuser_counts_as_admin():
    user = User.objects.create_superuser("root@example.com", "pw-Example-123")
    assert user.is_staff
    assert user.effective_role == Role.ADMIN
    assert user.role == Role.ADMIN


def test_enrollment_is_unique_per_user_and_property():
    enrollment = EnrollmentFactory()
    with pytest.raises(IntegrityError):
        EnrollmentFactory(user=enrollment.user, property=enrollment.property)


def test_a_property_can_hold_many_users():
    prop = PropertyFactory()
    EnrollmentFactory.create_batch(3, property=prop)
    assert prop.enrollments.count() == 3
