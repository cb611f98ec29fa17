"""Sessions that end (rotation, blacklist, logout), who am I, and the limits on logging in."""

from __future__ import annotations

from datetime import timedelta
from typing import Any

import pytest
from axes.models import AccessAttempt
from django.utils import timezone
from rest_framework.test import APIClient
from rest_framework_simplejwt.tokens import AccessToken, RefreshToken

from accounts.models import Role, User

pytestmark = pytest.mark.django_db

TOKEN = "/api/auth/token/"
REFRESH = "/api/auth/token/refresh/"
LOGOUT = "/api/auth/logout/"
ME = "/api/auth/me/"
PASSWORD = "S3cret-pass-1"


@pytest.fixture
def manager(make_user) -> User:
    return make_user(Role.MANAGER, email="boss@example.com", password=PASSWORD, first_name="Ada", last_name="Byron")


def login(client: APIClient, email: str = "boss@example.com", password: str = PASSWORD, **extra: Any) -> Any:
    return client.post(TOKEN, {"email": email, "password": password}, **extra)


# --- Sessions -------------------------------------------------------------------------------


def test_refresh_rotates_and_a_used_refresh_token_is_refused(api_client: APIClient, manager: User) -> None:
    first = login(api_client).json()
    rotated = api_client.post(REFRESH, {"refresh": first["refresh"]})
    assert rotated.status_code == 200
    assert set(rotated.json()) == {"access", "refresh"}
    assert rotated.json()["refresh"] != first["refresh"]

    reused = api_client.post(REFRESH, {"refresh": first["refresh"]})
    assert reused.status_code == 401
    assert api_client.post(REFRESH, {"refresh": rotated.json()["refresh"]}).status_code == 200


def test_logout_revokes_the_refresh_token(api_client: APIClient, manager: User) -> None:
    tokens = login(api_client).json()
    assert api_client.post(LOGOUT, {"refresh": tokens["refresh"]}).status_code == 204
    assert api_client.post(REFRESH, {"refresh": tokens["refresh"]}).status_code == 401
    assert api_client.post(LOGOUT, {"refresh": tokens["refresh"]}).status_code == 401
    assert api_client.post(LOGOUT, {"refresh": "garbage"}).status_code == 401
    assert api_client.post(LOGOUT, {}).status_code == 400


def test_token_lifetimes_come_from_settings(api_client: APIClient, manager: User, settings) -> None:
    tokens = login(api_client).json()
    access, refresh = AccessToken(tokens["access"]), RefreshToken(tokens["refresh"])
    assert access["exp"] - access["iat"] == settings.SIMPLE_JWT["ACCESS_TOKEN_LIFETIME"].total_seconds()
    assert refresh["exp"] - refresh["iat"] == settings.SIMPLE_JWT["REFRESH_TOKEN_LIFETIME"].total_seconds()


def test_refresh_for_a_deleted_user_is_refused_not_a_server_error(api_client: APIClient, manager: User) -> None:
    refresh = str(RefreshToken.for_user(manager))
    manager.delete()
    assert api_client.post(REFRESH, {"refresh": refresh}).status_code == 401


@pytest.mark.parametrize("role", [Role.STAFF, Role.AGENT, Role.PARTNER, Role.CLIENT])
def test_only_back_office_roles_get_tokens(api_client: APIClient, make_user, role: str) -> None:
    make_user(role, email="someone@example.com", password=PASSWORD)
    assert login(api_client, "someone@example.com").status_code == 401


def test_inactive_users_get_no_token_and_their_tokens_stop_working(api_client: APIClient, manager: User) -> None:
    tokens = login(api_client).json()
    manager.is_active = False
    manager.save(update_fields=["is_active"])
    assert login(api_client).status_code == 401
    assert api_client.post(REFRESH, {"refresh": tokens["refresh"]}).status_code == 401
    api_client.credentials(HTTP_AUTHORIZATION=f"Bearer {tokens['access']}")
    assert api_client.get(ME).status_code == 401


# --- Who am I -------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("role", "actions"),
    [
        (Role.ADMIN, {"segments": True, "campaigns": True, "sending": True}),
        (Role.MANAGER, {"segments": True, "campaigns": False, "sending": False}),
    ],
)
def test_me_tells_each_back_office_role_what_it_may_do(
    api_client: APIClient, make_user, role: str, actions: dict[str, bool]
) -> None:
    user = make_user(role, email="me@example.com", password=PASSWORD, first_name="Ada", last_name="Byron")
    access = login(api_client, "me@example.com").json()["access"]
    api_client.credentials(HTTP_AUTHORIZATION=f"Bearer {access}")
    assert api_client.get(ME).json() == {
        "id": user.pk,
        "email": "me@example.com",
        "name": "Ada Byron",
        "role": role,
        "actions": actions,
    }


@pytest.mark.parametrize("role", [Role.STAFF, Role.AGENT, Role.PARTNER, Role.CLIENT])
def test_me_refuses_other_roles_holding_an_older_token(api_client: APIClient, make_user, role: str) -> None:
    user = make_user(role)
    api_client.credentials(HTTP_AUTHORIZATION=f"Bearer {RefreshToken.for_user(user).access_token}")
    assert api_client.get(ME).status_code == 403


def test_me_needs_credentials(api_client: APIClient) -> None:
    assert api_client.get(ME).status_code == 401


# --- Rate limits ----------------------------------------------------------------------------


@pytest.fixture
def rates(settings) -> Any:
    """Small rates for the test; DRF reads them on every request."""

    def set_rates(**rates: str) -> None:
        settings.REST_FRAMEWORK = {
            **settings.REST_FRAMEWORK,
            "DEFAULT_THROTTLE_RATES": {**settings.REST_FRAMEWORK["DEFAULT_THROTTLE_RATES"], **rates},
        }

    return set_rates


def test_token_requests_are_limited_per_client_ip(api_client: APIClient, manager: User, rates) -> None:
    rates(login_ip="3/minute")
    for number in range(3):
        assert login(api_client, f"nobody{number}@example.com").status_code == 401
    limited = login(api_client)
    assert limited.status_code == 429
    assert 0 < int(limited["Retry-After"]) <= 60
    # Another client IP is not held back by this one's count.
    assert login(api_client, REMOTE_ADDR="10.0.0.2").status_code == 200


def test_token_requests_are_limited_per_email_address(api_client: APIClient, manager: User, rates) -> None:
    rates(login_address="3/minute")
    for number in range(3):
        assert login(api_client, "BOSS@example.com", "wrong", REMOTE_ADDR=f"10.0.0.{number}").status_code == 401
    limited = login(api_client, REMOTE_ADDR="10.0.1.1")
    assert limited.status_code == 429
    assert "Retry-After" in limited
    assert login(api_client, "other@example.com", REMOTE_ADDR="10.0.1.1").status_code == 401


def test_a_clients_forwarded_for_header_does_not_choose_its_ip(api_client: APIClient, manager: User, rates) -> None:
    rates(login_ip="2/minute")
    for number in range(2):
        login(api_client, "nobody@example.com", HTTP_X_FORWARDED_FOR=f"192.0.2.{number}")
    assert login(api_client, HTTP_X_FORWARDED_FOR="192.0.2.99").status_code == 429


def test_each_user_has_an_api_rate(api_client: APIClient, manager: User, rates) -> None:
    rates(user="2/minute")
    api_client.force_authenticate(manager)
    assert [api_client.get(ME).status_code for _ in range(3)] == [200, 200, 429]
    other = APIClient()
    other.force_authenticate(User.objects.create_user("second@example.com", role=Role.MANAGER))
    assert other.get(ME).status_code == 200


# --- Lock-out -------------------------------------------------------------------------------


def _lift_lockouts_by_time(settings) -> None:
    """Age every recorded failure past the cool-off, as the clock would."""
    AccessAttempt.objects.update(attempt_time=timezone.now() - settings.AXES_COOLOFF_TIME - timedelta(seconds=1))


def test_repeated_failures_lock_the_address_out_until_the_cool_off(api_client: APIClient, manager: User, settings):
    answers = [login(api_client, password="wrong", REMOTE_ADDR=f"10.0.0.{n}") for n in range(5)]
    assert [answer.status_code for answer in answers] == [401, 401, 401, 401, 429]
    locked = login(api_client, REMOTE_ADDR="10.9.9.9")
    assert locked.status_code == 429
    assert int(locked["Retry-After"]) == settings.AXES_COOLOFF_TIME.total_seconds()

    _lift_lockouts_by_time(settings)
    assert login(api_client, REMOTE_ADDR="10.9.9.9").status_code == 200


def test_repeated_failures_lock_the_ip_out_whatever_the_address(api_client: APIClient, manager: User):
    for number in range(5):
        login(api_client, f"guess{number}@example.com", "wrong")
    assert login(api_client).status_code == 429
    assert login(api_client, REMOTE_ADDR="10.0.0.7").status_code == 200


def test_a_successful_login_resets_the_failure_count(api_client: APIClient, manager: User) -> None:
    for _ in range(4):
        login(api_client, password="wrong")
    assert login(api_client).status_code == 200
    for _ in range(4):
        assert login(api_client, password="wrong").status_code == 401
    assert login(api_client).status_code == 200


def test_the_admin_login_locks_out_too(client, make_user, settings) -> None:
    make_user(Role.ADMIN, email="admin@example.com", password=PASSWORD)
    form = {"username": "Admin@Example.com", "password": "wrong"}
    statuses = [client.post("/admin/login/", form).status_code for _ in range(5)]
    assert statuses == [200, 200, 200, 200, 429]
    right = {"username": "admin@example.com", "password": PASSWORD}
    locked = client.post("/admin/login/", right)
    assert locked.status_code == 429
    assert b"Too many failed logins" in locked.content

    _lift_lockouts_by_time(settings)
    assert client.post("/admin/login/", right).status_code == 302


def test_the_admin_and_the_api_share_one_count_per_address(api_client: APIClient, client, manager: User):
    for _ in range(3):
        client.post("/admin/login/", {"username": "boss@example.com", "password": "wrong"}, REMOTE_ADDR="10.0.0.1")
    for _ in range(2):
        login(api_client, password="wrong", REMOTE_ADDR="10.0.0.2")
    assert login(api_client, REMOTE_ADDR="10.0.0.3").status_code == 429
