import pytest
from django.urls import reverse

from accounts.models import Role, User

pytestmark = pytest.mark.django_db


def test_admin_creates_a_user_in_the_group_of_its_role(client, admin_user):
    client.force_login(admin_user)
    response = client.post(
        reverse("admin:accounts_user_add"),
        {
            "email": "new@example.com",
            "role": Role.MANAGER,
            "password1": "pw-Example-123",
            "password2": "pw-Example-123",
        },
    )
    assert response.status_code == 302, response.content
    user = User.objects.get(email="new@example.com")
    assert user.is_staff
    assert list(user.groups.values_list("name", flat=True)) == [Role.MANAGER]


@pytest.mark.parametrize(("role", "status"), [(Role.MANAGER, 200), (Role.STAFF, 302), (Role.CLIENT, 302)])
def test_only_backoffice_roles_reach_the_admin(client, make_user, role, status):
    client.force_login(make_user(role))
    assert client.get(reverse("admin:index")).status_code == status
