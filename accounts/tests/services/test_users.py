import pytest
from django.contrib.auth.models import Group

from accounts.models import Role
from accounts.roles import MANAGE_CAMPAIGNS, MANAGE_SEGMENTS
from accounts.services import user_set_role
from accounts.tests.factories import UserFactory

pytestmark = pytest.mark.django_db


def test_every_role_has_a_group():
    assert set(Group.objects.values_list("name", flat=True)) >= set(Role.values)


@pytest.mark.parametrize(
    ("role", "segments", "campaigns"),
    [
        (Role.ADMIN, True, True),
        (Role.MANAGER, True, False),
        (Role.STAFF, False, False),
        (Role.AGENT, False, False),
        (Role.PARTNER, False, False),
        (Role.CLIENT, False, False),
    ],
)
def test_role_decides_permissions(role, segments, campaigns):
    user = UserFactory(role=role)
    assert user.has_perm(MANAGE_SEGMENTS) is segments
    assert user.has_perm(MANAGE_CAMPAIGNS) is campaigns


def test_changing_role_moves_the_user_between_groups():
    user = UserFactory(role=Role.MANAGER)
    user_set_role(user=user, role=Role.CLIENT)
    user.refresh_from_db()
    assert list(user.groups.values_list("name", flat=True)) == [Role.CLIENT]
    assert user.is_staff is False
    # Django caches permissions on the instance; a fresh load sees the new ones.
    fresh = type(user).objects.get(pk=user.pk)
    assert not fresh.has_perm(MANAGE_SEGMENTS)


def test_superuser_has_every_permission_whatever_the_stored_role():
    user = UserFactory(role=Role.CLIENT, is_superuser=True)
    assert user.has_perm(MANAGE_CAMPAIGNS)
