import pytest
from django.urls import reverse

from accounts.models import OptOutMethod, Role, Suppression, SuppressionReason, User
from accounts.services import suppression_add, user_opt_out
from campaigns.models import SubscriptionChange
from segments.selectors import reachable_users

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


def test_admin_lists_and_filters_suppressions(admin_client):
    suppression_add(email="a@example.com", reason=SuppressionReason.HARD_BOUNCE, source="brevo:hard_bounce")
    suppression_add(email="b@example.com", reason=SuppressionReason.COMPLAINT, source="brevo:spam")

    response = admin_client.get(reverse("admin:accounts_suppression_changelist"), {"reason": "COMPLAINT"})

    assert response.status_code == 200
    assert b"b@example.com" in response.content
    assert b"a@example.com" not in response.content


def test_admin_adds_a_manual_suppression_lower_cased(admin_client, make_user):
    user = make_user(email="person@example.com")

    response = admin_client.post(
        reverse("admin:accounts_suppression_add"),
        {"email": "Person@Example.com", "reason": "MANUAL", "source": "admin", "note": "asked by phone"},
    )

    assert response.status_code == 302
    entry = Suppression.objects.get()
    assert (entry.email, entry.reason, entry.note) == ("person@example.com", "MANUAL", "asked by phone")
    assert not reachable_users(User.objects.filter(pk=user.pk)).exists()


def test_admin_refuses_a_second_entry_for_the_same_address_in_other_case(admin_client):
    suppression_add(email="person@example.com", reason=SuppressionReason.MANUAL, source="admin")

    response = admin_client.post(
        reverse("admin:accounts_suppression_add"), {"email": "PERSON@example.com", "reason": "MANUAL"}
    )

    assert response.status_code == 200
    assert "already exists" in response.context["adminform"].form.errors["email"][0]
    assert Suppression.objects.count() == 1


def test_admin_deleting_a_suppression_makes_the_address_reachable_again(admin_client, make_user, reachable_emails):
    user = make_user()
    suppression_add(email=user.email, reason=SuppressionReason.MANUAL, source="admin")
    entry = Suppression.objects.get()

    response = admin_client.post(reverse("admin:accounts_suppression_delete", args=[entry.pk]), {"post": "yes"})

    assert response.status_code == 302
    assert reachable_emails() >= {user.email}


def test_admin_action_opts_users_out_and_records_it(admin_client, make_user):
    users = [make_user(), make_user()]
    user_opt_out(user=users[1], method=OptOutMethod.LINK)

    response = admin_client.post(
        reverse("admin:accounts_user_changelist"),
        {"action": "opt_out_of_campaign_email", "_selected_action": [user.pk for user in users]},
        follow=True,
    )

    assert "1 user(s) opted out; 1 already were." in response.content.decode()
    assert SubscriptionChange.objects.filter(user=users[0], method=OptOutMethod.ADMIN, opted_out=True).exists()
    assert not reachable_users(User.objects.filter(pk__in=[user.pk for user in users])).exists()


def test_managers_cannot_manage_suppressions(client, manager_user):
    client.force_login(manager_user)

    assert client.get(reverse("admin:accounts_suppression_changelist")).status_code == 403
