"""The Brevo list follows the segment: created, renamed and deleted with it, or nothing is saved."""

from __future__ import annotations

from typing import Any

import pytest
from django.db import IntegrityError
from django.urls import reverse
from rest_framework.test import APIClient

from accounts.models import User
from core.errors import UpstreamError
from core.testing import error_code, error_detail
from segments import services
from segments.models import BrevoSetting, Segment
from segments.selectors import Criteria
from segments.services import exports

pytestmark = pytest.mark.django_db

SPAIN = Criteria(countries=("ES",))


@pytest.fixture(autouse=True)
def _two_attempts(settings: Any) -> None:
    """The client gives up after two tries here, so the tests can fail every one of them."""
    settings.BREVO_RETRY_ATTEMPTS = 2


def create(by: User, name: str = "Spain") -> Segment:
    return services.segment_create(by=by, name=name, criteria=SPAIN)


# -- create -----------------------------------------------------------------------------------------


def test_create_makes_the_list_in_the_folder_and_stores_its_id(fast_brevo: Any, admin_user: User) -> None:
    segment = create(admin_user)

    assert segment.brevo_list_id is not None
    brevo_list = fast_brevo.lists[segment.brevo_list_id]
    (folder_id,) = fast_brevo.folders
    assert (brevo_list["name"], brevo_list["folderId"]) == ("Spain", folder_id)
    assert BrevoSetting.objects.get(key=BrevoSetting.FOLDER_ID).value == str(folder_id)
    Segment.objects.get(pk=segment.pk, brevo_list_id=segment.brevo_list_id)


def test_create_without_brevo_saves_the_segment_without_a_list(admin_user: User, settings: Any) -> None:
    settings.BREVO_API_KEY = ""
    segment = create(admin_user)
    assert segment.brevo_list_id is None


@pytest.mark.parametrize(
    ("fault", "status_code"),
    [({"status": 500}, 503), ({"status": None, "drop": True}, 503), ({"status": 401}, 502)],
    ids=["brevo-down", "connection-lost", "refused"],
)
def test_create_saves_nothing_when_brevo_fails(
    fast_brevo: Any, admin_user: User, fault: dict[str, Any], status_code: int
) -> None:
    fast_brevo.fail_next(10, path_prefix="contacts", **fault)

    with pytest.raises(UpstreamError) as caught:
        create(admin_user)

    assert caught.value.status_code == status_code
    assert "Could not create the segment's Brevo list" in caught.value.message
    assert not Segment.objects.exists()
    assert fast_brevo.lists == {}


def test_create_with_a_bad_key_is_a_502_naming_the_setting(fast_brevo: Any, admin_user: User, settings: Any) -> None:
    settings.BREVO_API_KEY = "revoked"
    with pytest.raises(UpstreamError) as caught:
        create(admin_user)
    assert caught.value.status_code == 502
    assert "Check BREVO_API_KEY" in caught.value.message
    assert caught.value.extra["brevo"] == {"status": 401, "code": "unauthorized", "message": "Key not found"}


def test_a_failed_save_deletes_the_list_again(
    fast_brevo: Any, admin_user: User, monkeypatch: pytest.MonkeyPatch
) -> None:
    def broken_save(segment: Segment) -> None:
        raise IntegrityError("disk full")

    monkeypatch.setattr("segments.services.segments._save", broken_save)

    with pytest.raises(IntegrityError):
        create(admin_user)

    assert not Segment.objects.exists()
    assert len(fast_brevo.calls("POST", "contacts/lists")) == 1
    assert fast_brevo.lists == {}


def test_invalid_input_never_reaches_brevo(fast_brevo: Any, admin_user: User) -> None:
    create(admin_user, name="Spain")
    before = len(fast_brevo.calls())
    with pytest.raises(Exception, match="already exists"):
        create(admin_user, name="SPAIN")
    assert len(fast_brevo.calls()) == before


def test_provision_deletes_the_list_when_the_block_fails(fast_brevo: Any) -> None:
    created: list[int | None] = []

    def save_fails() -> None:
        with exports.segment_list_provision(name="Doomed") as list_id:
            created.append(list_id)
            raise RuntimeError

    with pytest.raises(RuntimeError):
        save_fails()
    assert created[0] is not None
    assert len(fast_brevo.calls("DELETE", f"contacts/lists/{created[0]}")) == 1
    assert fast_brevo.lists == {}


# -- rename ---------------------------------------------------------------------------------------


def test_rename_renames_the_list(fast_brevo: Any, admin_user: User) -> None:
    segment = create(admin_user)
    services.segment_update(segment=segment, name="Spain and islands")
    assert fast_brevo.lists[segment.brevo_list_id]["name"] == "Spain and islands"


def test_other_edits_leave_the_list_alone(fast_brevo: Any, admin_user: User) -> None:
    segment = create(admin_user)
    before = len(fast_brevo.calls())
    services.segment_update(segment=segment, description="Residents", criteria=Criteria(countries=("PT",)))
    assert len(fast_brevo.calls()) == before


def test_rename_refused_by_brevo_keeps_the_old_name(fast_brevo: Any, admin_user: User) -> None:
    segment = create(admin_user)
    fast_brevo.fail_next(5, 503, path_prefix="contacts/lists")

    with pytest.raises(UpstreamError) as caught:
        services.segment_update(segment=segment, name="Renamed", description="changed too")

    assert caught.value.status_code == 503
    segment.refresh_from_db()
    assert (segment.name, segment.description) == ("Spain", "")
    assert fast_brevo.lists[segment.brevo_list_id]["name"] == "Spain"


def test_rename_of_a_list_gone_in_brevo_is_saved_and_left_to_the_next_sync(fast_brevo: Any, admin_user: User) -> None:
    segment = create(admin_user)
    with fast_brevo.lock:
        del fast_brevo.lists[segment.brevo_list_id]
    services.segment_update(segment=segment, name="Renamed")
    segment.refresh_from_db()
    assert segment.name == "Renamed"


# -- delete ---------------------------------------------------------------------------------------


def test_delete_deletes_the_list(fast_brevo: Any, admin_user: User) -> None:
    segment = create(admin_user)
    list_id = segment.brevo_list_id
    services.segment_delete(segment=segment)
    assert not Segment.objects.exists()
    assert list_id not in fast_brevo.lists


def test_delete_of_a_list_already_gone_in_brevo_is_fine(fast_brevo: Any, admin_user: User) -> None:
    segment = create(admin_user)
    with fast_brevo.lock:
        del fast_brevo.lists[segment.brevo_list_id]
    services.segment_delete(segment=segment)
    assert not Segment.objects.exists()


def test_delete_refused_by_brevo_keeps_the_segment_and_says_why(fast_brevo: Any, admin_user: User) -> None:
    segment = create(admin_user)
    fast_brevo.fail_next(5, 500, path_prefix="contacts/lists")

    with pytest.raises(UpstreamError) as caught:
        services.segment_delete(segment=segment)

    assert caught.value.status_code == 503
    assert "so the segment was kept" in caught.value.message
    assert Segment.objects.filter(pk=segment.pk).exists()
    assert segment.brevo_list_id in fast_brevo.lists


# -- through the API ------------------------------------------------------------------------------


def test_api_create_answers_503_with_brevo_reason_and_saves_nothing(
    fast_brevo: Any, admin_client_api: APIClient
) -> None:
    fast_brevo.fail_next(10, 503, path_prefix="contacts")
    answer = admin_client_api.post(reverse("segment-list"), {"name": "Spain", "countries": ["ES"]}, format="json")
    assert answer.status_code == 503
    body = answer.json()
    assert error_code(answer) == "upstream_error"
    assert body["brevo"]["status"] == 503
    assert "Brevo failed with 503" in error_detail(answer)
    assert not Segment.objects.exists()


def test_api_create_answers_502_when_brevo_refuses(fast_brevo: Any, admin_client_api: APIClient, settings: Any) -> None:
    settings.BREVO_FOLDER_ID = 999_999
    answer = admin_client_api.post(reverse("segment-list"), {"name": "Spain", "countries": ["ES"]}, format="json")
    assert answer.status_code == 502
    brevo_error = {"status": 404, "code": "document_not_found", "message": "Folder ID does not exist"}
    assert answer.json()["brevo"] == brevo_error
    assert not Segment.objects.exists()


def test_api_create_rename_delete_follow_the_list(fast_brevo: Any, manager_client_api: APIClient) -> None:
    created = manager_client_api.post(reverse("segment-list"), {"name": "Spain", "countries": ["ES"]}, format="json")
    assert created.status_code == 201
    segment = Segment.objects.get(pk=created.json()["id"])
    assert fast_brevo.lists[segment.brevo_list_id]["name"] == "Spain"

    renamed = manager_client_api.patch(reverse("segment-detail", args=[segment.pk]), {"name": "España"}, format="json")
    assert renamed.status_code == 200
    assert fast_brevo.lists[segment.brevo_list_id]["name"] == "España"

    fast_brevo.fail_next(2, 500, path_prefix="contacts/lists")  # as many as the client tries
    refused = manager_client_api.delete(reverse("segment-detail", args=[segment.pk]))
    assert refused.status_code == 503
    assert Segment.objects.filter(pk=segment.pk).exists()

    deleted = manager_client_api.delete(reverse("segment-detail", args=[segment.pk]))
    assert deleted.status_code == 204
    assert fast_brevo.lists == {}
