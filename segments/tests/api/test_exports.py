"""Syncing a segment to Brevo from the API: the sync endpoint, its answers and its schema."""

from __future__ import annotations

from collections.abc import Callable
from datetime import timedelta
from typing import Any

import pytest
from django.urls import reverse
from django.utils import timezone
from rest_framework.test import APIClient

from accounts.models import Role, User
from accounts.tests.factories import UserFactory
from core.testing import error_code, error_detail, error_fields
from segments.models import ExportStatus, Segment, SegmentExport
from segments.services import exports
from segments.tests.factories import SegmentExportFactory

pytestmark = pytest.mark.django_db


def sync_url(segment: Segment) -> str:
    return reverse("segment-sync", args=[segment.pk])


def test_sync_answers_202_and_the_job_moves_the_export_to_success(
    fast_brevo: Any,
    segment: Segment,
    admin_client_api: APIClient,
    admin_user: User,
    run_jobs: Callable[[], int],
    django_capture_on_commit_callbacks: Any,
) -> None:
    users = [UserFactory(country="ES") for _ in range(3)]
    with django_capture_on_commit_callbacks(execute=True):
        answer = admin_client_api.post(sync_url(segment), format="json")

    assert answer.status_code == 202
    body = answer.json()
    assert body["status"] == ExportStatus.PENDING
    assert body["exported_by"]["id"] == admin_user.pk
    assert body["full"] is False

    run_jobs()

    history = admin_client_api.get(reverse("segment-exports", args=[segment.pk])).json()["results"]
    assert [(row["id"], row["status"]) for row in history] == [(body["id"], ExportStatus.SUCCESS)]
    assert (history[0]["users_count"], history[0]["added_count"], history[0]["removed_count"]) == (3, 3, 0)
    segment.refresh_from_db()
    assert fast_brevo.lists[segment.brevo_list_id]["members"] == {user.email.lower() for user in users}


def test_second_sync_while_one_is_active_answers_409_with_it(
    fast_brevo: Any, segment: Segment, manager_client_api: APIClient
) -> None:
    first = manager_client_api.post(sync_url(segment), format="json").json()

    answer = manager_client_api.post(sync_url(segment), {"full": True}, format="json")

    assert answer.status_code == 409
    body = answer.json()
    assert error_code(answer) == "sync_in_progress"
    assert body["export"]["id"] == first["id"]
    assert body["export"]["status"] == ExportStatus.PENDING
    assert "already pending" in error_detail(answer)
    assert SegmentExport.objects.count() == 1


def test_a_stale_running_export_does_not_block_a_new_sync(
    fast_brevo: Any, segment: Segment, admin_client_api: APIClient
) -> None:
    stale = SegmentExportFactory(
        segment=segment,
        status=ExportStatus.RUNNING,
        heartbeat_at=timezone.now() - exports.STALE_AFTER - timedelta(minutes=1),
    )

    answer = admin_client_api.post(sync_url(segment), {"full": True}, format="json")

    assert answer.status_code == 202
    assert answer.json()["full"] is True
    stale.refresh_from_db()
    assert stale.status == ExportStatus.FAILED


def test_sync_input_is_validated(fast_brevo: Any, segment: Segment, admin_client_api: APIClient) -> None:
    answer = admin_client_api.post(sync_url(segment), {"full": "perhaps"}, format="json")
    assert answer.status_code == 400
    assert "full" in error_fields(answer)
    assert not SegmentExport.objects.exists()


def test_sync_of_an_unknown_segment_is_404(fast_brevo: Any, admin_client_api: APIClient) -> None:
    assert admin_client_api.post(reverse("segment-sync", args=[999]), format="json").status_code == 404


def test_sync_without_brevo_configured_is_a_409_saying_so(
    segment: Segment, admin_client_api: APIClient, settings: Any
) -> None:
    settings.BREVO_API_KEY = ""
    answer = admin_client_api.post(sync_url(segment), format="json")
    assert answer.status_code == 409
    assert error_code(answer) == "brevo_not_configured"
    assert "BREVO_API_KEY" in error_detail(answer)
    assert not SegmentExport.objects.exists()


@pytest.mark.parametrize("role", [Role.STAFF, Role.AGENT, Role.PARTNER, Role.CLIENT])
def test_only_admins_and_managers_may_sync(
    fast_brevo: Any, segment: Segment, api_client: APIClient, make_user: Callable[..., User], role: str
) -> None:
    api_client.force_authenticate(make_user(role))
    assert api_client.post(sync_url(segment), format="json").status_code == 403
    assert not SegmentExport.objects.exists()


def test_anonymous_sync_is_401(fast_brevo: Any, segment: Segment, api_client: APIClient) -> None:
    assert api_client.post(sync_url(segment), format="json").status_code == 401


def test_schema_documents_sync_and_its_errors(admin_client_api: APIClient) -> None:
    schema = admin_client_api.get(reverse("schema"), HTTP_ACCEPT="application/vnd.oai.openapi+json").json()
    operation = schema["paths"]["/api/segments/{id}/sync/"]["post"]
    # Brevo is not called while the client waits: only a missing configuration (409) can refuse.
    assert set(operation["responses"]) >= {"202", "400", "401", "403", "404", "409", "429"}
    assert not {"502", "503"} & set(operation["responses"])
    conflict = operation["responses"]["409"]["content"]["application/json"]["schema"]["$ref"]
    assert conflict.endswith("/SegmentSyncConflict")
    writes = [("/api/segments/", "post"), ("/api/segments/{id}/", "patch"), ("/api/segments/{id}/", "delete")]
    for path, method in writes:
        assert {"502", "503"} <= set(schema["paths"][path][method]["responses"])
