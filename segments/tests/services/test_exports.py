"""The Brevo list sync service and job, end to end against the fake Brevo server."""

from __future__ import annotations

from collections import Counter
from collections.abc import Callable
from datetime import timedelta
from typing import Any

import django_rq
import pytest
from django.db import IntegrityError, connection, transaction
from django.utils import timezone

from accounts.models import SuppressionReason, User
from accounts.tests.factories import SuppressionFactory, UserFactory
from core.errors import StateConflictError
from segments.jobs import segment_exports_recover_job, segment_sync_job
from segments.models import BrevoSetting, ExportStatus, Segment, SegmentExport, SegmentListMember
from segments.services import exports
from segments.services.exports import (
    SegmentSyncInProgressError,
    SyncProgress,
    segment_exports_recover,
    segment_sync_run,
    segment_sync_start,
)
from segments.tests.factories import SegmentExportFactory

pytestmark = pytest.mark.django_db


def spanish(count: int, **fields: Any) -> list[User]:
    return [UserFactory(country="ES", **fields) for _ in range(count)]


def sync(segment: Segment, on_progress: Callable[[SyncProgress], None] | None = None, **options: Any) -> SegmentExport:
    export = segment_sync_start(segment=segment, by=None, enqueue=False, **options)
    export = segment_sync_run(export=export, on_progress=on_progress)
    if Segment.objects.filter(pk=segment.pk).exists():
        segment.refresh_from_db()
    return export


def list_members(brevo: Any, segment: Segment) -> set[str]:
    segment.refresh_from_db()
    return set(brevo.lists[segment.brevo_list_id]["members"])


def imported_emails(brevo: Any) -> list[str]:
    return [row["email"] for call in brevo.calls("POST", "contacts/import") for row in call["body"]["jsonBody"]]


def emails(users: list[User]) -> set[str]:
    return {user.email.lower() for user in users}


# -- first sync -----------------------------------------------------------------------------------


def test_first_sync_creates_folder_and_list_and_imports_reachable_users(fast_brevo: Any, segment: Segment) -> None:
    members = spanish(3)
    UserFactory(country="ES", is_verified=False)
    UserFactory(country="FR")

    export = sync(segment)

    assert export.status == ExportStatus.SUCCESS
    assert (export.users_count, export.added_count, export.removed_count) == (3, 3, 0)
    assert export.started_at is not None
    assert export.finished_at is not None
    assert export.error_message == ""
    assert list_members(fast_brevo, segment) == emails(members)
    (folder_id,) = fast_brevo.folders
    brevo_list = fast_brevo.lists[segment.brevo_list_id]
    assert (brevo_list["name"], brevo_list["folderId"]) == ("Spain", folder_id)
    assert BrevoSetting.objects.get(key=BrevoSetting.FOLDER_ID).value == str(folder_id)
    assert set(SegmentListMember.objects.filter(segment=segment).values_list("email", flat=True)) == emails(members)


def test_each_sync_logs_one_line_with_its_segment(fast_brevo: Any, segment: Segment, json_log_lines: Any) -> None:
    spanish(3)

    export = sync(segment)

    (line,) = [line for line in json_log_lines("segments.services.exports") if "export_id" in line]
    assert (line["segment_id"], line["export_id"], line["status"]) == (segment.pk, export.pk, "SUCCESS")
    assert (line["members"], line["added"], line["removed"]) == (3, 3, 0)


def test_import_attributes_names_and_sms_only_when_a_valid_phone_exists(fast_brevo: Any, segment: Segment) -> None:
    UserFactory(country="ES", email="Ana@Example.com", first_name="Ana", last_name="Ruiz", phone="+34 600 123 456")
    UserFactory(country="ES", email="bo@example.com", first_name="Bo", last_name="", phone="")
    UserFactory(country="ES", email="cy@example.com", first_name="Cy", last_name="Li", phone="not a phone")

    sync(segment)

    segment.refresh_from_db()
    (call,) = fast_brevo.calls("POST", "contacts/import")
    body = call["body"]
    assert body["listIds"] == [segment.brevo_list_id]
    assert body["updateExistingContacts"] is True
    rows = {row["email"]: row["attributes"] for row in body["jsonBody"]}
    assert rows == {
        "ana@example.com": {"FIRSTNAME": "Ana", "LASTNAME": "Ruiz", "SMS": "+34600123456"},
        "bo@example.com": {"FIRSTNAME": "Bo", "LASTNAME": ""},
        "cy@example.com": {"FIRSTNAME": "Cy", "LASTNAME": "Li"},
    }
    assert fast_brevo.contacts["ana@example.com"]["attributes"]["SMS"] == "+34600123456"


def test_folder_is_created_once_and_reused(fast_brevo: Any, segment: Segment, france: Segment) -> None:
    spanish(1)
    other = france
    UserFactory(country="FR")

    sync(segment)
    sync(other)

    assert len(fast_brevo.folders) == 1
    assert len(fast_brevo.calls("POST", "contacts/folders")) == 1
    segment.refresh_from_db()
    other.refresh_from_db()
    assert fast_brevo.lists[segment.brevo_list_id]["folderId"] == fast_brevo.lists[other.brevo_list_id]["folderId"]


def test_configured_folder_is_used(fast_brevo: Any, segment: Segment, settings: Any) -> None:
    spanish(1)
    with fast_brevo.lock:
        fast_brevo.folders[777] = {"id": 777, "name": "Operations"}
    settings.BREVO_FOLDER_ID = 777

    sync(segment)

    segment.refresh_from_db()
    assert fast_brevo.lists[segment.brevo_list_id]["folderId"] == 777
    assert fast_brevo.calls("POST", "contacts/folders") == []
    assert not BrevoSetting.objects.exists()


def test_remembered_folder_deleted_in_brevo_is_replaced(fast_brevo: Any, segment: Segment) -> None:
    spanish(1)
    BrevoSetting.objects.create(key=BrevoSetting.FOLDER_ID, value="4242")

    assert sync(segment).status == ExportStatus.SUCCESS

    (folder_id,) = fast_brevo.folders
    assert BrevoSetting.objects.get(key=BrevoSetting.FOLDER_ID).value == str(folder_id)


# -- re-syncs -------------------------------------------------------------------------------------


def test_resync_without_changes_sends_nothing_but_checks_the_list(fast_brevo: Any, segment: Segment) -> None:
    spanish(3)
    sync(segment)
    before = len(fast_brevo.calls())

    export = sync(segment)

    assert (export.status, export.users_count, export.added_count, export.removed_count) == ("SUCCESS", 3, 0, 0)
    new_calls = fast_brevo.calls()[before:]
    assert [(call["method"], call["path"]) for call in new_calls] == [
        ("GET", f"/v3/contacts/lists/{segment.brevo_list_id}")
    ]


def test_resync_imports_only_changes_and_removes_exactly_who_left(fast_brevo: Any, segment: Segment) -> None:
    stay, renamed, moved, unverified, opted_out, suppressed = spanish(6)
    sync(segment)
    first_import = len(fast_brevo.calls("POST", "contacts/import"))

    renamed.first_name = "Renamed"
    renamed.save()
    moved.country = "FR"
    moved.save()
    unverified.is_verified = False
    unverified.save()
    opted_out.email_opted_out_at = timezone.now()
    opted_out.save()
    SuppressionFactory(email=suppressed.email.lower(), reason=SuppressionReason.HARD_BOUNCE)
    newcomer = UserFactory(country="ES")

    export = sync(segment)

    assert (export.users_count, export.added_count, export.removed_count) == (3, 1, 4)
    later_imports = fast_brevo.calls("POST", "contacts/import")[first_import:]
    assert {row["email"] for call in later_imports for row in call["body"]["jsonBody"]} == emails([renamed, newcomer])
    removed = [email for call in fast_brevo.calls("POST", "contacts/lists") for email in call["body"].get("emails", [])]
    assert set(removed) == emails([moved, unverified, opted_out, suppressed])
    assert list_members(fast_brevo, segment) == emails([stay, renamed, newcomer])
    assert fast_brevo.contacts[renamed.email.lower()]["attributes"]["FIRSTNAME"] == "Renamed"
    assert set(SegmentListMember.objects.filter(segment=segment).values_list("email", flat=True)) == emails(
        [stay, renamed, newcomer]
    )


def test_full_resync_reimports_everyone_without_counting_them_as_added(fast_brevo: Any, segment: Segment) -> None:
    users = spanish(3)
    sync(segment)
    with fast_brevo.lock:
        # Someone took a contact out of the list in Brevo's own tools.
        fast_brevo.lists[segment.brevo_list_id]["members"].discard(users[0].email.lower())

    export = sync(segment, full=True)

    assert export.full
    assert (export.users_count, export.added_count, export.removed_count) == (3, 0, 0)
    assert list_members(fast_brevo, segment) == emails(users)


def test_list_deleted_in_brevo_is_recreated(fast_brevo: Any, segment: Segment) -> None:
    users = spanish(2)
    sync(segment)
    old_list_id = segment.brevo_list_id
    with fast_brevo.lock:
        del fast_brevo.lists[old_list_id]

    export = sync(segment)

    assert export.status == ExportStatus.SUCCESS
    assert export.added_count == 2
    segment.refresh_from_db()
    assert segment.brevo_list_id != old_list_id
    assert list_members(fast_brevo, segment) == emails(users)


def test_list_deleted_in_brevo_is_recreated_when_only_removals_were_due(fast_brevo: Any, segment: Segment) -> None:
    stay, leaver = spanish(2)
    sync(segment)
    with fast_brevo.lock:
        del fast_brevo.lists[segment.brevo_list_id]
    leaver.country = "FR"
    leaver.save()

    export = sync(segment)

    assert (export.status, export.added_count, export.removed_count) == ("SUCCESS", 1, 0)
    assert list_members(fast_brevo, segment) == emails([stay])


# -- chunking limits ------------------------------------------------------------------------------


def test_removals_go_in_chunks_of_at_most_150(fast_brevo: Any, segment: Segment) -> None:
    stay = UserFactory(country="ES")
    leavers = User.objects.bulk_create(
        User(email=f"leaver{i}@example.com", country="ES", is_verified=True) for i in range(320)
    )
    sync(segment)
    User.objects.filter(pk__in=[user.pk for user in leavers]).update(country="FR")

    export = sync(segment)

    assert export.removed_count == 320
    removals = fast_brevo.calls("POST", f"contacts/lists/{segment.brevo_list_id}/contacts/remove")
    sizes = [len(call["body"]["emails"]) for call in removals]
    assert sizes == [150, 150, 20]
    assert list_members(fast_brevo, segment) == {stay.email.lower()}


def test_imports_over_brevo_body_limit_are_chunked_under_8_mb(fast_brevo: Any, segment: Segment) -> None:
    # About 560 bytes per contact (long addresses and names): 20,000 contacts are 11 MB, over
    # Brevo's 10 MB body limit, which the fake enforces.
    long = {"first_name": "F" * 150, "last_name": "L" * 150, "country": "ES", "is_verified": True}
    User.objects.bulk_create(User(email=f"{'m' * 200}{i}@example.com", **long) for i in range(20_000))
    if connection.vendor == "postgresql":
        # What autovacuum does to a table that grew this much; without it, PostgreSQL plans the
        # diff as if the users table were empty.
        with connection.cursor() as cursor:
            cursor.execute("ANALYZE accounts_user")

    export = sync(segment)

    assert export.status == ExportStatus.SUCCESS, export.error_message
    assert export.added_count == 20_000
    imports = fast_brevo.calls("POST", "contacts/import")
    assert len(imports) == 2
    assert all(call["status"] == 202 for call in imports)
    assert len(list_members(fast_brevo, segment)) == 20_000
    assert len(imported_emails(fast_brevo)) == 20_000


# -- the state machine ----------------------------------------------------------------------------


def test_start_records_pending_and_refuses_a_second_active_sync(fast_brevo: Any, segment: Segment) -> None:
    first = segment_sync_start(segment=segment, by=None, enqueue=False)
    assert first.status == ExportStatus.PENDING

    with pytest.raises(SegmentSyncInProgressError) as caught:
        segment_sync_start(segment=segment, by=None, enqueue=False)
    assert caught.value.export.pk == first.pk
    assert caught.value.status_code == 409

    segment_sync_run(export=first)
    assert segment_sync_start(segment=segment, by=None, enqueue=False).pk != first.pk


def test_database_refuses_two_active_exports_of_one_segment(segment: Segment) -> None:
    SegmentExportFactory(segment=segment, status=ExportStatus.RUNNING)
    with pytest.raises(IntegrityError), transaction.atomic():
        SegmentExportFactory(segment=segment, status=ExportStatus.PENDING)
    SegmentExportFactory(segment=segment, status=ExportStatus.FAILED)


def test_run_claims_only_pending_exports(fast_brevo: Any, segment: Segment) -> None:
    done = SegmentExportFactory(segment=segment, status=ExportStatus.SUCCESS)
    assert segment_sync_run(export=done).status == ExportStatus.SUCCESS
    assert fast_brevo.calls() == []


def test_progress_moves_through_running(fast_brevo: Any, segment: Segment) -> None:
    spanish(2)
    seen: list[tuple[str, str]] = []

    def watch(progress: SyncProgress) -> None:
        seen.append((progress.step, SegmentExport.objects.get(segment=segment).status))

    sync(segment, on_progress=watch)

    assert seen[0] == ("counted", ExportStatus.RUNNING)
    assert seen[-1] == ("done", ExportStatus.SUCCESS)
    assert ("imported", ExportStatus.RUNNING) in seen


def test_start_without_brevo_is_a_409_brevo_not_configured(segment: Segment, settings: Any) -> None:
    settings.BREVO_API_KEY = ""
    with pytest.raises(StateConflictError) as caught:
        segment_sync_start(segment=segment, by=None)
    assert (caught.value.status_code, caught.value.code) == (409, "brevo_not_configured")
    assert "BREVO_API_KEY" in caught.value.message
    assert not SegmentExport.objects.exists()


def test_job_runs_the_queued_export(
    fast_brevo: Any,
    segment: Segment,
    run_jobs: Callable[[], int],
    django_capture_on_commit_callbacks: Any,
) -> None:
    users = spanish(2)
    with django_capture_on_commit_callbacks(execute=True):
        export = segment_sync_start(segment=segment, by=None)

    run_jobs()

    export.refresh_from_db()
    assert export.status == ExportStatus.SUCCESS
    assert list_members(fast_brevo, segment) == emails(users)


# -- failures -------------------------------------------------------------------------------------


def test_429_bursts_end_in_success(fast_brevo: Any, segment: Segment) -> None:
    users = spanish(3)
    fast_brevo.fail_next(4, 429, path_prefix="contacts", reset_seconds=0)
    fast_brevo.fail_next(3, 429, path_prefix="processes", reset_seconds=0)

    export = sync(segment)

    assert export.status == ExportStatus.SUCCESS
    assert list_members(fast_brevo, segment) == emails(users)
    assert Counter(call["fault"] for call in fast_brevo.calls())["status_429"] == 7


def test_5xx_storm_fails_with_the_reason_and_a_rerun_finishes_without_duplicates(
    fast_brevo: Any, segment: Segment, monkeypatch: pytest.MonkeyPatch, settings: Any
) -> None:
    users = spanish(9)
    settings.BREVO_RETRY_ATTEMPTS = 3
    # Small chunks: three imports of three contacts.
    monkeypatch.setattr(exports, "IMPORT_CHUNK_BYTES", 450)
    imports_done = 0

    def storm_after_first_import(progress: SyncProgress) -> None:
        nonlocal imports_done
        if progress.step == "imported":
            imports_done += 1
            if imports_done == 1:
                # As many 500s as the client tries: the storm outlasts the retry budget.
                fast_brevo.fail_next(3, 500, path_prefix="contacts/import")

    failed = sync(segment, on_progress=storm_after_first_import)

    assert failed.status == ExportStatus.FAILED
    assert "500" in failed.error_message
    assert "try again later" in failed.error_message
    assert failed.finished_at is not None
    first_chunk = len(fast_brevo.calls("POST", "contacts/import")[0]["body"]["jsonBody"])
    assert 0 < first_chunk < len(users)
    assert failed.added_count == first_chunk

    rerun = sync(segment)

    assert rerun.status == ExportStatus.SUCCESS
    assert rerun.added_count == len(users) - first_chunk
    assert list_members(fast_brevo, segment) == emails(users)
    sent = [
        row["email"]
        for call in fast_brevo.calls("POST", "contacts/import")
        if call["status"] == 202
        for row in call["body"]["jsonBody"]
    ]
    assert sorted(sent) == sorted(emails(users))


def test_failed_import_process_fails_the_sync_and_a_rerun_recovers(fast_brevo: Any, segment: Segment) -> None:
    users = spanish(2)
    fast_brevo.fail_next_imports(1)

    failed = sync(segment)

    assert failed.status == ExportStatus.FAILED
    assert "import process" in failed.error_message
    assert "run the sync again" in failed.error_message
    assert not SegmentListMember.objects.filter(segment=segment).exists()
    assert sync(segment).status == ExportStatus.SUCCESS
    assert list_members(fast_brevo, segment) == emails(users)


def test_slow_import_processes_are_polled_until_complete(fast_brevo: Any, segment: Segment) -> None:
    spanish(2)
    fast_brevo.set_process_delay(3)

    assert sync(segment).status == ExportStatus.SUCCESS
    assert len(fast_brevo.calls("GET", "processes")) == 4


def test_bad_api_key_gives_a_clear_failure(fast_brevo: Any, segment: Segment, settings: Any) -> None:
    spanish(1)
    settings.BREVO_API_KEY = "revoked-key"

    export = sync(segment)

    assert export.status == ExportStatus.FAILED
    assert export.error_message == "Brevo refused the API key (Key not found). Check BREVO_API_KEY."


def test_brevo_unreachable_gives_a_clear_failure(segment: Segment, settings: Any) -> None:
    spanish(1)
    settings.BREVO_API_KEY = "key"
    settings.BREVO_API_URL = "http://127.0.0.1:9/v3/"
    settings.BREVO_RETRY_BASE_DELAY = 0.001

    export = sync(segment)

    assert export.status == ExportStatus.FAILED
    assert "could not be reached" in export.error_message


class WorkerKilled(BaseException):
    """Stands for SIGKILL: nothing in the job gets to record anything."""


def test_worker_killed_mid_sync_is_failed_by_recovery_and_the_next_run_resumes(
    fast_brevo: Any, segment: Segment, monkeypatch: pytest.MonkeyPatch
) -> None:
    users = spanish(6)
    monkeypatch.setattr(exports, "IMPORT_CHUNK_BYTES", 450)

    def die_after_first_import(progress: SyncProgress) -> None:
        if progress.step == "imported":
            raise WorkerKilled

    killed = segment_sync_start(segment=segment, by=None, enqueue=False)
    with pytest.raises(WorkerKilled):
        segment_sync_run(export=killed, on_progress=die_after_first_import)
    killed.refresh_from_db()
    assert killed.status == ExportStatus.RUNNING

    # Still fresh: neither the recovery job nor a new request takes it for dead.
    assert segment_exports_recover() == (0, 0)
    with pytest.raises(SegmentSyncInProgressError):
        segment_sync_start(segment=segment, by=None, enqueue=False)

    later = timezone.now() + exports.STALE_AFTER + timedelta(seconds=1)
    assert segment_exports_recover(now=later) == (1, 0)
    killed.refresh_from_db()
    assert killed.status == ExportStatus.FAILED
    assert "stopped without finishing" in killed.error_message

    first_chunk = len(fast_brevo.calls("POST", "contacts/import")[0]["body"]["jsonBody"])
    assert 0 < first_chunk < len(users)
    rerun = sync(segment)
    assert rerun.status == ExportStatus.SUCCESS
    assert rerun.added_count == len(users) - first_chunk
    assert list_members(fast_brevo, segment) == emails(users)
    assert sorted(imported_emails(fast_brevo)) == sorted(emails(users))


def test_a_new_request_treats_a_stale_running_export_as_dead(fast_brevo: Any, segment: Segment) -> None:
    stale = SegmentExportFactory(
        segment=segment,
        status=ExportStatus.RUNNING,
        started_at=timezone.now() - timedelta(hours=1),
        heartbeat_at=timezone.now() - exports.STALE_AFTER - timedelta(minutes=1),
    )

    fresh = segment_sync_start(segment=segment, by=None, enqueue=False)

    stale.refresh_from_db()
    assert stale.status == ExportStatus.FAILED
    assert "Run the sync again" in stale.error_message
    assert fresh.status == ExportStatus.PENDING


def test_recovery_requeues_pending_exports_whose_job_was_lost(
    fast_brevo: Any, segment: Segment, france: Segment, django_capture_on_commit_callbacks: Any
) -> None:
    lost = SegmentExportFactory(
        segment=segment, status=ExportStatus.PENDING, created_at=timezone.now() - timedelta(minutes=10)
    )
    other = france
    just_queued = SegmentExportFactory(segment=other, status=ExportStatus.PENDING)

    with django_capture_on_commit_callbacks(execute=True):
        assert segment_exports_recover() == (0, 1)

    queue = django_rq.get_queue("default")
    assert queue.job_ids == [f"segment-export-{lost.pk}"]
    just_queued.refresh_from_db()
    assert just_queued.status == ExportStatus.PENDING


def test_recovery_fails_running_exports_whose_job_failed(fast_brevo: Any, segment: Segment) -> None:
    running = SegmentExportFactory(segment=segment, status=ExportStatus.RUNNING, heartbeat_at=timezone.now())
    queue = django_rq.get_queue("default", commit_mode="auto")
    job = queue.enqueue("segments.jobs.segment_sync_job", running.pk, job_id=f"segment-export-{running.pk}")
    job.set_status("failed")

    assert segment_exports_recover() == (1, 0)
    running.refresh_from_db()
    assert running.status == ExportStatus.FAILED


def test_segment_deleted_during_a_sync_ends_quietly(fast_brevo: Any, segment: Segment) -> None:
    spanish(2)

    def delete_segment(progress: SyncProgress) -> None:
        if progress.step == "counted":
            Segment.objects.filter(pk=segment.pk).delete()

    export = segment_sync_start(segment=segment, by=None, enqueue=False)
    segment_sync_run(export=export, on_progress=delete_segment)

    assert not SegmentExport.objects.exists()
    assert fast_brevo.lists == {}


def test_jobs_take_ids_and_return_quietly_when_there_is_nothing_to_do(fast_brevo: Any, segment: Segment) -> None:
    segment_sync_job(123_456)
    stale = SegmentExportFactory(
        segment=segment, status=ExportStatus.RUNNING, heartbeat_at=timezone.now() - timedelta(hours=1)
    )

    segment_exports_recover_job()

    stale.refresh_from_db()
    assert stale.status == ExportStatus.FAILED
    segment_sync_job(stale.pk)
    stale.refresh_from_db()
    assert stale.status == ExportStatus.FAILED
    assert fast_brevo.calls() == []


def test_recovery_runs_every_minute_from_cron() -> None:
    from rq import cron

    import config.cron  # noqa: F401  (registers its jobs on import)

    registered = {entry["func"]: entry["interval"] for entry in cron._job_data_registry}
    assert registered[segment_exports_recover_job] == 60
