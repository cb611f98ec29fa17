"""`manage.py sync_segments`: queue or run Brevo syncs from the command line."""

from __future__ import annotations

from io import StringIO
from typing import Any

import django_rq
import pytest
from django.core.management import CommandError, call_command
from django.utils import timezone

from accounts.tests.factories import UserFactory
from segments.models import ExportStatus, Segment, SegmentExport
from segments.tests.factories import SegmentExportFactory

pytestmark = pytest.mark.django_db


def run(*args: str) -> str:
    out = StringIO()
    call_command("sync_segments", *args, stdout=out)
    return out.getvalue()


def test_wait_runs_the_sync_here_and_prints_progress_and_result(fast_brevo: Any, spain: Segment) -> None:
    users = [UserFactory(country="ES") for _ in range(2)]

    output = run(str(spain.pk), "--wait")

    assert f"Segment {spain.pk} “Spain”: counted: 2 reachable" in output
    assert "imported: 2 reachable, 2 imported (2 new), 0 removed" in output
    assert "SUCCESS" in output
    assert "2 reachable users, 2 added, 0 removed." in output
    spain.refresh_from_db()
    assert fast_brevo.lists[spain.brevo_list_id]["members"] == {user.email.lower() for user in users}
    assert SegmentExport.objects.get(segment=spain).status == ExportStatus.SUCCESS


def test_without_wait_the_syncs_are_queued(
    fast_brevo: Any, spain: Segment, france: Segment, django_capture_on_commit_callbacks: Any
) -> None:
    with django_capture_on_commit_callbacks(execute=True):
        output = run("--all")

    exports = {export.segment_id: export for export in SegmentExport.objects.all()}
    assert f"Segment {spain.pk} “Spain”: queued (export {exports[spain.pk].pk})." in output
    assert f"Segment {france.pk} “France”: queued (export {exports[france.pk].pk})." in output
    assert {export.status for export in exports.values()} == {ExportStatus.PENDING}
    assert sorted(django_rq.get_queue("default").job_ids) == sorted(
        f"segment-export-{export.pk}" for export in exports.values()
    )
    assert fast_brevo.calls() == []


def test_full_resync(fast_brevo: Any, spain: Segment) -> None:
    UserFactory(country="ES")
    run(str(spain.pk), "--wait")
    output = run(str(spain.pk), "--wait", "--full")
    assert "1 reachable users, 0 added, 0 removed." in output
    assert SegmentExport.objects.filter(segment=spain, full=True).count() == 1
    assert len(fast_brevo.calls("POST", "contacts/import")) == 2


def test_a_failed_sync_is_reported_and_exits_with_an_error(fast_brevo: Any, spain: Segment, settings: Any) -> None:
    UserFactory(country="ES")
    settings.BREVO_API_KEY = "revoked"
    out = StringIO()

    with pytest.raises(CommandError, match="1 of 1 sync"):
        call_command("sync_segments", str(spain.pk), "--wait", stdout=out)

    assert "FAILED" in out.getvalue()
    assert "Brevo refused the API key (Key not found). Check BREVO_API_KEY." in out.getvalue()


def test_a_segment_already_syncing_is_skipped(fast_brevo: Any, spain: Segment, france: Segment) -> None:
    SegmentExportFactory(segment=spain, status=ExportStatus.RUNNING, heartbeat_at=timezone.now())
    out = StringIO()

    with pytest.raises(CommandError, match="1 of 2 sync"):
        call_command("sync_segments", "--all", "--wait", stdout=out)

    assert "skipped, A Brevo sync of this segment is already running" in out.getvalue()
    assert SegmentExport.objects.get(segment=france).status == ExportStatus.SUCCESS


@pytest.mark.parametrize(
    ("args", "message"),
    [((), "Name segment ids, or pass --all"), (("1", "--all"), "not both"), (("999",), "No segment(s) 999.")],
)
def test_bad_arguments(fast_brevo: Any, args: tuple[str, ...], message: str) -> None:
    with pytest.raises(CommandError, match=message.replace("(", r"\(").replace(")", r"\)")):
        run(*args)


def test_without_brevo_configured(spain: Segment, settings: Any) -> None:
    settings.BREVO_API_KEY = ""
    with pytest.raises(CommandError, match="BREVO_API_KEY"):
        run(str(spain.pk))
