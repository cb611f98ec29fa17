"""Every role, and anonymous, over every admin page and every API operation.

The tables below say which roles have business where; they are written from the product's
rules, not read from the code, so a door left open (a page any staff user can open, an
endpoint without a permission) fails here. A page or operation the tables do not know fails
too: whoever adds one classifies it.
"""

from __future__ import annotations

import re
from collections.abc import Iterator
from typing import Any

import pytest
from django.apps import apps
from django.contrib.contenttypes.models import ContentType
from django.test import Client
from django.urls import URLPattern, URLResolver, get_resolver, reverse
from drf_spectacular.generators import SchemaGenerator
from rest_framework.test import APIClient
from rest_framework_simplejwt.tokens import RefreshToken

from accounts.models import Role, User
from accounts.tests.factories import EnrollmentFactory, LeadFactory, PropertyFactory, UserFactory
from campaigns.tests.factories import CampaignFactory
from segments.models import Segment
from segments.tests.factories import SegmentExportFactory, SegmentFactory

pytestmark = pytest.mark.django_db

ANONYMOUS = "anonymous"
EVERYONE = frozenset({*Role.values, ANONYMOUS})
BACK_OFFICE = frozenset({Role.ADMIN, Role.MANAGER})
ADMIN_ONLY = frozenset({Role.ADMIN})

# --- Who has business where -----------------------------------------------------------------

# Admin pages anyone may open (signing in, and the redirect to an object's public page).
_PUBLIC_ADMIN_PAGES = {"admin:login", "admin:logout", "admin:view_on_site"}
# The admin's own frame: every back-office user.
_BACK_OFFICE_PAGES = {
    "admin:index",
    "admin:password_change",
    "admin:password_change_done",
    "admin:jsi18n",
    "admin:autocomplete",
    # The segment form's picker of sent campaigns (engagement criteria): whoever edits segments.
    "admin:campaigns_campaign_sent_search",
}
# Audience data a MANAGER reads (segments are built on it) but does not change.
_MANAGER_READS = {"accounts_user", "accounts_property", "accounts_enrollment", "accounts_lead"}
_READ_VIEWS = ("changelist", "change", "history")
# App sections of the admin and who works in them; everything operational is ADMIN's.
_APP_ROLES = {
    "segments": BACK_OFFICE,
    "accounts": ADMIN_ONLY,
    "campaigns": ADMIN_ONLY,
    "auth": ADMIN_ONLY,
    "axes": ADMIN_ONLY,
    "token_blacklist": ADMIN_ONLY,
    "django_rq": ADMIN_ONLY,
}


def admin_page_roles(name: str, app_label: str | None) -> frozenset[str]:
    if name in _PUBLIC_ADMIN_PAGES:
        return EVERYONE
    if name in _BACK_OFFICE_PAGES:
        return BACK_OFFICE
    if name == "admin:app_list":
        return BACK_OFFICE if app_label in ("segments", "accounts") else _APP_ROLES[app_label or ""]
    view_name = name.removeprefix("admin:")
    if any(view_name == f"{model}_{view}" for model in _MANAGER_READS for view in _READ_VIEWS):
        return BACK_OFFICE
    for label, roles in _APP_ROLES.items():
        if view_name.startswith(f"{label}_"):
            return roles
    raise AssertionError(f"Admin page {name} is not classified: add it to this test's tables.")


def api_operation_roles(path: str) -> frozenset[str]:
    if path in ("/api/auth/token/", "/api/auth/token/refresh/", "/api/auth/logout/"):
        return EVERYONE
    if path == "/api/auth/me/" or path.startswith("/api/segments/"):
        return BACK_OFFICE
    if path.startswith(("/api/campaigns/", "/api/layouts/")):
        return ADMIN_ONLY
    raise AssertionError(f"API path {path} is not classified: add it to this test's tables.")


# --- The world the doors are tried in --------------------------------------------------------


@pytest.fixture
def world(db: None, settings: Any) -> dict[str, Any]:
    # Enough requests for the whole walk; the limits themselves are tested elsewhere.
    settings.REST_FRAMEWORK = {
        **settings.REST_FRAMEWORK,
        "DEFAULT_THROTTLE_RATES": dict.fromkeys(settings.REST_FRAMEWORK["DEFAULT_THROTTLE_RATES"], "100000/minute"),
    }
    users = {role: UserFactory(role=role, email=f"{role.lower()}@example.com") for role in Role.values}
    segment = SegmentFactory(created_by=users[Role.MANAGER])
    SegmentExportFactory(segment=segment)
    EnrollmentFactory(property=PropertyFactory())
    LeadFactory()
    RefreshToken.for_user(users[Role.ADMIN]).blacklist()
    Client().post("/admin/login/", {"username": "admin@example.com", "password": "wrong"})
    campaign = CampaignFactory(created_by=users[Role.ADMIN])
    return {"users": users, "segment": segment, "campaign": campaign}


def _clients(world: dict[str, Any], *, api: bool) -> Iterator[tuple[str, Any]]:
    # Server errors come back as 500 answers, so one broken page does not hide the others.
    yield ANONYMOUS, APIClient() if api else Client(raise_request_exception=False)
    for role, user in world["users"].items():
        if api:
            client = APIClient()
            client.credentials(HTTP_AUTHORIZATION=f"Bearer {RefreshToken.for_user(user).access_token}")
        else:
            client = Client(raise_request_exception=False)
            client.force_login(user)
        yield role, client


# --- Admin pages ----------------------------------------------------------------------------

_SAMPLE_KWARGS = {
    "queue_index": 0,
    "scheduler_index": 0,
    "connection_index": 0,
    "job_id": "no-such-job",
    "result_id": "no-such-result",
    "key": "no-such-worker",
    "scheduler_name": "no-such-scheduler",
    "cron_job_name": "no-such-job",
}


def _admin_patterns() -> Iterator[tuple[str, URLPattern]]:
    def walk(resolver: URLResolver, namespace: str) -> Iterator[tuple[str, URLPattern]]:
        for entry in resolver.url_patterns:
            if isinstance(entry, URLResolver):
                yield from walk(entry, f"{namespace}{entry.namespace}:" if entry.namespace else namespace)
            elif entry.name:
                yield f"{namespace}{entry.name}", entry

    for name, pattern in walk(get_resolver(), ""):
        if name.startswith("admin:"):
            yield name, pattern


def _admin_urls() -> Iterator[tuple[str, str | None, str]]:
    """(url name, app label, url) for every named admin page, filled with existing objects."""
    for name, pattern in _admin_patterns():
        converters = set(getattr(pattern.pattern, "converters", {})) | set(pattern.pattern.regex.groupindex)
        if name == "admin:app_list":
            labels = re.search(r"\(\?P<app_label>([^)]*)\)", pattern.pattern.regex.pattern)
            assert labels
            for label in labels.group(1).split("|"):
                yield name, label, reverse(name, kwargs={"app_label": label})
            continue
        if "token" in converters:
            continue  # RQ's stats.json/<token>/: the same view as stats.json/
        kwargs: dict[str, Any] = {key: value for key, value in _SAMPLE_KWARGS.items() if key in converters}
        for key in ("object_id", "campaign_id", "id"):
            if key in converters:
                kwargs[key] = _some_pk(name)
        if name == "admin:view_on_site":
            segment = Segment.objects.first()
            kwargs.update(content_type_id=ContentType.objects.get_for_model(Segment).pk, object_id=segment.pk)
        yield name, None, reverse(name, kwargs=kwargs)


def _some_pk(name: str) -> str:
    view_name = name.removeprefix("admin:").replace("auth_user_", "accounts_user_")
    for model in apps.get_models():
        prefix = f"{model._meta.app_label}_{model._meta.model_name}_"
        if view_name.startswith(prefix) and model._meta.managed:
            row = model._default_manager.order_by("pk").first()
            return str(row.pk) if row else "1"
    return "1"


def _refused(response: Any, method: str) -> bool:
    """A page read must not answer 2xx; an action must be refused outright (a redirect after a
    POST is how a successful admin action answers)."""
    if method == "get":
        return not 200 <= response.status_code < 300
    if response.status_code == 302:
        return response["Location"].startswith("/admin/login/")
    return response.status_code in (403, 404)


def test_admin_pages_open_only_for_the_roles_that_have_business_there(world: dict[str, Any]) -> None:
    pages = list(_admin_urls())
    assert any(name == "admin:django_rq_home" for name, _, _ in pages)
    opened_wrongly, broken = [], []
    for role, client in _clients(world, api=False):
        for name, app_label, url in pages:
            response = client.get(url)
            if role in admin_page_roles(name, app_label):
                # RQ's dashboard fails on the made-up job, worker and scheduler names; ours must not.
                if response.status_code >= 500 and not name.startswith("admin:django_rq_"):
                    broken.append((role, url, response.status_code))
                continue
            method = "get"
            if response.status_code == 405 and name != "admin:logout":
                # POST-only actions (send, sync, ...) are tried with a POST, by roles refused them only.
                method, response = "post", client.post(url)
            if not _refused(response, method):
                opened_wrongly.append((role, url, response.status_code))
    assert opened_wrongly == [], opened_wrongly
    assert broken == [], broken


def test_a_manager_cannot_open_the_queue_dashboard(client: Client, manager_user: User, admin_user: User) -> None:
    client.force_login(manager_user)
    assert client.get("/admin/django_rq/dashboard/").status_code == 403
    assert client.get("/admin/django_rq/dashboard/queues/0/empty/").status_code == 403
    assert b"django_rq" not in client.get("/admin/").content
    client.force_login(admin_user)
    assert client.get("/admin/django_rq/dashboard/").status_code == 200


# --- API operations -------------------------------------------------------------------------


def _operations() -> Iterator[tuple[str, str]]:
    schema = SchemaGenerator().get_schema(request=None, public=True)
    for path, methods in schema["paths"].items():
        for method in methods:
            if method in ("get", "post", "put", "patch", "delete"):
                yield method, path


def test_api_operations_answer_only_the_roles_that_have_business_there(world: dict[str, Any]) -> None:
    operations = list(_operations())
    assert len(operations) > 20
    opened_wrongly = []
    for role, client in _clients(world, api=True):
        for method, path in operations:
            if role in api_operation_roles(path):
                continue
            owner = world["campaign"] if path.startswith("/api/campaigns/") else world["segment"]
            url = path.replace("{id}", str(owner.pk))
            response = getattr(client, method)(url, {}, format="json")
            expected = 401 if role == ANONYMOUS else 403
            if response.status_code != expected:
                opened_wrongly.append((role, method.upper(), url, response.status_code))
    assert opened_wrongly == [], opened_wrongly
