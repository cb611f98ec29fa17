"""The admin's frame: its name, icon, home page sections and the staff member's time zone."""

from __future__ import annotations

import pytest
from django.test import Client
from django.urls import reverse

from accounts.models import Role

pytestmark = pytest.mark.django_db


def sections(client: Client) -> dict[str, list[str]]:
    response = client.get(reverse("admin:index"))
    return {section["name"]: [model["name"] for model in section["models"]] for section in response.context["app_list"]}


def test_home_groups_models_by_what_staff_do_and_keeps_operations_for_administrators(client, make_user):
    client.force_login(make_user(Role.ADMIN, is_superuser=True, email="root@example.com"))

    found = sections(client)

    assert list(found) == ["Audience", "Segments", "Campaigns", "Operations"]
    assert found["Segments"] == ["Segments"]
    assert found["Campaigns"][0] == "Campaigns"
    assert {"Groups", "Django-RQ", "Tracking events"} <= set(found["Operations"])
    assert "Users" in found["Audience"]


def test_a_manager_sees_segments_without_the_machinery(client, manager_user):
    client.force_login(manager_user)

    found = sections(client)

    assert "Segments" in found
    assert "Operations" not in found
    assert "Campaigns" not in found


def test_the_site_is_branded_with_an_icon(admin_client):
    html = admin_client.get(reverse("admin:index")).content.decode()

    assert "<title>Home | Audience mail</title>" in html
    assert "Django administration" not in html
    assert 'rel="icon" href="/static/staff/favicon.svg"' in html


def test_favicon_ico_points_at_the_icon(client):
    response = client.get("/favicon.ico")

    assert response.status_code == 302
    assert response["Location"] == "/static/staff/favicon.svg"
