"""Each segment mirrored by a Brevo contact list: the list's lifecycle and the sync itself.

A sync is a `SegmentExport` moving PENDING -> RUNNING -> SUCCESS | FAILED. The job imports the
segment's reachable users that are new or changed since the last export, waits for Brevo to
apply each import, then removes the addresses exported before that no longer match.
`SegmentListMember` rows record what Brevo confirmed, so every step can be repeated after a
crash or a failure without sending anything twice, and the removal set is exact without
reading the list back from Brevo.
"""

from __future__ import annotations

import json
import logging
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from datetime import datetime, timedelta
from functools import partial
from typing import NamedTuple, TypeVar

from django.conf import settings
from django.db import IntegrityError, connection, transaction
from django.db.models import Exists, OuterRef, QuerySet
from django.db.models.functions import Lower
from django.utils import timezone
from rq.job import JobStatus

from accounts.models import User
from brevo import (
    MAX_EMAILS_PER_LIST_CHANGE,
    MAX_IMPORT_BODY_BYTES,
    BrevoClient,
    BrevoError,
    BrevoNotConfiguredError,
    ImportBatch,
    ImportContact,
    brevo_client,
    brevo_configured,
    brevo_sms,
    configured_folder_id,
)
from core.errors import StateConflictError, UpstreamError
from segments.models import BrevoSetting, ExportStatus, Segment, SegmentExport, SegmentListMember
from segments.queue import enqueue_segment_sync, segment_sync_queued_job
from segments.selectors import Criteria, matching_users, reachable_users

logger = logging.getLogger(__name__)
_T = TypeVar("_T")

ACTIVE_STATUSES = (ExportStatus.PENDING, ExportStatus.RUNNING)
# Name of the Brevo folder created on first use when BREVO_FOLDER_ID is not set.
FOLDER_NAME = "Segments"

# Users read from the database per round trip while streaming the audience: memory stays flat
# whatever the audience size (about 1 KB per user in flight).
USER_STREAM_CHUNK = 2000
# Import bodies are cut under Brevo's ~8 MB guidance, and at 50,000 contacts, which bounds the
# worker's memory (a waiting contact costs ~100 bytes of JSON plus its row, ~300 bytes in all)
# and keeps each Brevo import process short. 100,000 users are two imports.
IMPORT_CHUNK_BYTES = MAX_IMPORT_BODY_BYTES
IMPORT_CHUNK_MAX_CONTACTS = 50_000
# Member rows written per statement after Brevo confirmed an import.
MEMBER_WRITE_BATCH = 10_000

# A sync ANALYZEs SegmentListMember once more rows than this (and than 10% of the table) changed
# since PostgreSQL last analyzed it: see _refresh_member_statistics.
STATISTICS_STALE_ROWS = 1000

# Import processes are polled with doubling delays from BREVO_PROCESS_POLL_DELAY (seconds) up to
# this ceiling; an import still unfinished after PROCESS_TIMEOUT fails the sync (a re-run
# sends only what was not confirmed).
PROCESS_POLL_MAX_DELAY = 15.0
PROCESS_TIMEOUT = timedelta(minutes=30)
PROCESS_MAX_POLLS = 500

# A RUNNING export whose heartbeat is older than this has lost its worker. The heartbeat moves
# after every Brevo call, and one call waits at most a few minutes (bounded retries).
STALE_AFTER = timedelta(minutes=15)
# A PENDING export whose queue job vanished (Redis flushed) is re-queued after this grace, which
# covers the instant between the export's commit and its enqueue.
PENDING_GRACE = timedelta(minutes=2)
# RQ states in which a job will never run (or finish) our export.
_DEAD_JOB_STATUSES = (JobStatus.FAILED, JobStatus.STOPPED, JobStatus.CANCELED, JobStatus.FINISHED)


class SegmentSyncInProgressError(StateConflictError):
    """A sync of this segment is already pending or running (409); `export` is that sync."""

    code = "sync_in_progress"

    def __init__(self, export: SegmentExport) -> None:
        super().__init__(
            f"A Brevo sync of this segment is already {export.status.lower()} (export {export.pk}).",
            extra={"export_id": export.pk},
        )
        self.export = export


def brevo_not_configured_error() -> StateConflictError:
    """No BREVO_API_KEY: a state of this server the client can see and an operator can change
    (409 `brevo_not_configured`), not an outage a retry would outlast."""
    return StateConflictError(BrevoNotConfiguredError().describe(), code="brevo_not_configured")


def brevo_upstream_error(error: BrevoError, *, action: str) -> UpstreamError | StateConflictError:
    """Brevo trouble as the API reports it: 503 when unreachable, 502 when Brevo refused, 409
    when it is not configured."""
    if isinstance(error, BrevoNotConfiguredError):
        return brevo_not_configured_error()
    status_code = 503 if error.unreachable else 502
    return UpstreamError(
        f"Could not {action}. {error.describe()}",
        status_code=status_code,
        extra={"brevo": {"status": error.status, "code": error.code, "message": error.message}},
    )


# -- the list follows the segment ---------------------------------------------------------------


def _folder_id(client: BrevoClient) -> int:
    """BREVO_FOLDER_ID, else the folder this project created on first use (created now if none)."""
    configured = configured_folder_id()
    if configured is not None:
        return configured
    stored = BrevoSetting.objects.filter(key=BrevoSetting.FOLDER_ID).values_list("value", flat=True).first()
    if stored is not None:
        return int(stored)
    created = client.folder_create(name=FOLDER_NAME)
    # Two first uses racing both create a folder; the unique key keeps one and the other stays
    # empty in Brevo, which is harmless.
    setting, _ = BrevoSetting.objects.get_or_create(key=BrevoSetting.FOLDER_ID, defaults={"value": str(created)})
    return int(setting.value)


def _list_create(client: BrevoClient, *, name: str) -> int:
    folder_id = _folder_id(client)
    try:
        return client.list_create(name=name, folder_id=folder_id)
    except BrevoError as error:
        if not error.not_found or configured_folder_id() is not None:
            raise
    # The remembered folder was deleted in Brevo: forget it and create a new one, once.
    BrevoSetting.objects.filter(key=BrevoSetting.FOLDER_ID, value=str(folder_id)).delete()
    return client.list_create(name=name, folder_id=_folder_id(client))


@contextmanager
def segment_list_provision(*, name: str) -> Iterator[int | None]:
    """Create the Brevo list for a segment about to be saved, and yield its id (None when Brevo
    is not configured: a later sync creates it). If the block raises, the list is deleted again,
    so a failed save leaves no orphan list. Brevo trouble raises UpstreamError (502/503)."""
    if not brevo_configured():
        yield None
        return
    client = brevo_client()
    try:
        list_id = _list_create(client, name=name)
    except BrevoError as error:
        raise brevo_upstream_error(error, action="create the segment's Brevo list") from error
    try:
        yield list_id
    except BaseException:
        try:
            client.list_delete(list_id=list_id)
        except BrevoError:
            logger.exception("Brevo list %s was created for a segment that was not saved; delete it by hand", list_id)
        raise


def segment_list_rename(*, segment: Segment) -> None:
    """Give the segment's Brevo list the segment's (new) name. A list already gone in Brevo is
    left to the next sync, which recreates it; other Brevo trouble raises UpstreamError."""
    if segment.brevo_list_id is None or not brevo_configured():
        return
    try:
        brevo_client().list_rename(list_id=segment.brevo_list_id, name=segment.name)
    except BrevoError as error:
        if error.not_found:
            logger.warning(
                "Brevo list %s of segment %s is gone; the next sync recreates it", segment.brevo_list_id, segment.pk
            )
            return
        raise brevo_upstream_error(error, action="rename the segment's Brevo list") from error


def segment_list_delete(*, segment: Segment) -> None:
    """Delete the segment's Brevo list (its contacts stay in the Brevo account). Already gone is
    fine; other Brevo trouble raises UpstreamError so the caller keeps the segment."""
    if segment.brevo_list_id is None:
        return
    if not brevo_configured():
        logger.warning(
            "Brevo is not configured: list %s of segment %s stays in Brevo", segment.brevo_list_id, segment.pk
        )
        return
    try:
        brevo_client().list_delete(list_id=segment.brevo_list_id)
    except BrevoError as error:
        if error.not_found:
            return
        raise brevo_upstream_error(error, action="delete the segment's Brevo list, so the segment was kept") from error


# -- starting a sync, and noticing dead ones -------------------------------------------------------


def _is_dead(export: SegmentExport, *, now: datetime) -> bool:
    """Whether an active export will never finish: its worker died or its queue job is gone."""
    job = segment_sync_queued_job(export.pk)
    if job is not None and job.get_status(refresh=True) in _DEAD_JOB_STATUSES:
        return True
    if export.status == ExportStatus.PENDING:
        return job is None and export.created_at < now - PENDING_GRACE
    # RUNNING: inline runs (sync_segments --wait) have no queue job, so the heartbeat decides.
    last_sign_of_life = export.heartbeat_at or export.started_at or export.created_at
    return last_sign_of_life < now - STALE_AFTER


def _dead_message(export: SegmentExport) -> str:
    if export.status == ExportStatus.PENDING:
        return "The queued sync was lost before a worker started it (queue restarted?). Run the sync again."
    return (
        "The sync stopped without finishing (worker stopped or killed). Run the sync again: "
        "it resumes from what Brevo already confirmed."
    )


def _fail(export: SegmentExport, message: str, *, from_status: str) -> bool:
    """Conditional move to FAILED; False when the export had already left `from_status`."""
    now = timezone.now()
    return bool(
        SegmentExport.objects.filter(pk=export.pk, status=from_status).update(
            status=ExportStatus.FAILED, error_message=message, finished_at=now, heartbeat_at=now
        )
    )


def segment_sync_start(*, segment: Segment, by: User | None, full: bool = False, enqueue: bool = True) -> SegmentExport:
    """Record a PENDING sync of the segment to its Brevo list and queue its job (after commit).

    Raises SegmentSyncInProgressError (409) while another sync of the segment is pending or
    running; one whose worker died is failed instead and does not block. `full` re-imports every
    member instead of only the changes. `enqueue=False` leaves running it to the caller.
    """
    if not brevo_configured():
        raise brevo_not_configured_error()
    with transaction.atomic():
        # The segment row lock serialises concurrent starts; the partial unique constraint on
        # active exports is the guarantee if anything slips past it.
        locked = Segment.objects.select_for_update().get(pk=segment.pk)
        active = SegmentExport.objects.filter(segment=locked, status__in=ACTIVE_STATUSES).first()
        if active is not None:
            if not _is_dead(active, now=timezone.now()):
                raise SegmentSyncInProgressError(active)
            _fail(active, _dead_message(active), from_status=active.status)
        try:
            with transaction.atomic():
                export = SegmentExport.objects.create(segment=locked, exported_by=by, full=full)
        except IntegrityError:
            raise SegmentSyncInProgressError(
                SegmentExport.objects.get(segment=locked, status__in=ACTIVE_STATUSES)
            ) from None
        if enqueue:
            enqueue_segment_sync(export.pk)
    return export


def segment_exports_recover(*, now: datetime | None = None) -> tuple[int, int]:
    """Safety net for the periodic job: fail RUNNING exports whose worker died, and re-queue
    PENDING ones whose queue job vanished. Returns (failed, requeued)."""
    now = now or timezone.now()
    failed = requeued = 0
    for export in SegmentExport.objects.filter(status__in=ACTIVE_STATUSES).order_by("pk"):
        if not _is_dead(export, now=now):
            continue
        if export.status == ExportStatus.PENDING and segment_sync_queued_job(export.pk) is None:
            # Nothing ran yet: the work itself is intact, only its pointer in Redis was lost.
            enqueue_segment_sync(export.pk)
            requeued += 1
        elif _fail(export, _dead_message(export), from_status=export.status):
            logger.warning(
                "segment export %s of segment %s failed: %s", export.pk, export.segment_id, _dead_message(export)
            )
            failed += 1
    return failed, requeued


# -- running a sync -------------------------------------------------------------------------------


@dataclass(frozen=True)
class SyncProgress:
    """Where a running sync stands, for operators watching it (sync_segments --wait)."""

    step: str
    users_count: int
    imported: int
    added: int
    removed: int


# The upserts behind _ListSync._record_exported; the test suite runs both.
_MEMBER_UPSERT_SQL = (
    "INSERT INTO segments_segmentlistmember (segment_id, exported_at, email, first_name, last_name, phone) "
    "VALUES (%s, %s, %s, %s, %s, %s) "
    "ON CONFLICT (segment_id, email) DO UPDATE SET first_name = excluded.first_name, "
    "last_name = excluded.last_name, phone = excluded.phone, exported_at = excluded.exported_at"
)
_MEMBER_UPSERT_JSON_SQL = (
    "INSERT INTO segments_segmentlistmember (segment_id, exported_at, email, first_name, last_name, phone) "
    "SELECT %s, %s, member.* FROM json_to_recordset(%s::json) "
    "AS member(email text, first_name text, last_name text, phone text) "
    "ON CONFLICT (segment_id, email) DO UPDATE SET first_name = excluded.first_name, "
    "last_name = excluded.last_name, phone = excluded.phone, exported_at = excluded.exported_at"
)


class _Row(NamedTuple):
    """One user as the import stream reads it."""

    email: str
    first_name: str
    last_name: str
    phone: str
    was_exported: bool

    def contact(self) -> ImportContact:
        attributes = {"FIRSTNAME": self.first_name, "LASTNAME": self.last_name}
        sms = brevo_sms(self.phone) if self.phone else None
        if sms:
            attributes["SMS"] = sms
        return ImportContact(email=self.email.lower(), attributes=attributes)


class _AbandonedError(Exception):
    """The export stopped being ours (failed by recovery, or deleted with its segment)."""


class _ListMissingError(Exception):
    """Brevo answered 404 for the segment's list: it was deleted on Brevo's side."""


class _SyncFailedError(Exception):
    """The sync cannot finish; the message says why in words a person can act on."""


def segment_sync_run(
    *, export: SegmentExport, on_progress: Callable[[SyncProgress], None] | None = None
) -> SegmentExport:
    """Carry out a PENDING export: claim it (RUNNING), mirror the segment into its Brevo list,
    and end in SUCCESS with counts or FAILED with the reason. Returns quietly (the export as
    it stands) when it is no longer PENDING, so a job delivered twice runs once."""
    now = timezone.now()
    claimed = SegmentExport.objects.filter(pk=export.pk, status=ExportStatus.PENDING).update(
        status=ExportStatus.RUNNING, started_at=now, heartbeat_at=now
    )
    if not claimed:
        return SegmentExport.objects.filter(pk=export.pk).first() or export
    sync = _ListSync(export_id=export.pk, segment_id=export.segment_id, full=export.full, on_progress=on_progress)
    try:
        sync.run()
    except _AbandonedError:
        logger.info("segment export %s was taken over or deleted while running", export.pk)
    except BrevoError as error:
        _fail(export, error.describe(), from_status=ExportStatus.RUNNING)
    except _SyncFailedError as error:
        _fail(export, str(error), from_status=ExportStatus.RUNNING)
    except Exception as error:
        # Recorded for the person who asked, then re-raised so the worker logs the traceback.
        _fail(export, f"Unexpected error: {type(error).__name__}: {error}", from_status=ExportStatus.RUNNING)
        raise
    finished = SegmentExport.objects.filter(pk=export.pk).first() or export
    _log_sync(finished, seconds=(timezone.now() - now).total_seconds())
    return finished


def _log_sync(export: SegmentExport, *, seconds: float) -> None:
    """One line per sync run, with the segment and export ids and the counts as keys."""
    logger.info(
        "segment %s sync %s: %s, %d members, %d added, %d removed in %.1f s",
        export.segment_id,
        export.pk,
        export.status,
        export.users_count,
        export.added_count,
        export.removed_count,
        seconds,
        extra={
            "segment_id": export.segment_id,
            "export_id": export.pk,
            "status": export.status,
            "members": export.users_count,
            "added": export.added_count,
            "removed": export.removed_count,
            "duration_ms": round(seconds * 1000, 1),
        },
    )


def _refresh_member_statistics(*, changed_rows: int | None = None) -> None:
    """Analyze SegmentListMember on PostgreSQL when much of it changed since the last ANALYZE.

    Syncs are the table's only writer and add up to a whole audience at once. Until autovacuum
    catches up, the planner believes the table is as small as before and plans the diff queries
    as nested loops comparing every user with every member: seconds for 5,000 users, hours for
    100,000. Sampling the table costs well under a second. A sync passes the rows it just
    changed (its own writes are not in pg_stat yet); otherwise PostgreSQL's count of changes
    since the last ANALYZE decides. The users table is left to autovacuum: it changes slowly.
    """
    if connection.vendor != "postgresql":
        return
    with connection.cursor() as cursor:
        cursor.execute(
            "SELECT n_mod_since_analyze, n_live_tup FROM pg_stat_user_tables "
            "WHERE relid = 'segments_segmentlistmember'::regclass"
        )
        row = cursor.fetchone()
        modified, live = (row[0], row[1]) if row is not None else (0, 0)
        if changed_rows is not None:
            modified = max(modified, changed_rows)
        if modified > max(STATISTICS_STALE_ROWS, live // 10):
            cursor.execute("ANALYZE segments_segmentlistmember")


class _ListSync:
    """One run of one export. Brevo calls happen in this order: (create the list), imports of
    new or changed members each awaited to completion, then removals in chunks of 150."""

    def __init__(
        self, *, export_id: int, segment_id: int, full: bool, on_progress: Callable[[SyncProgress], None] | None
    ) -> None:
        self.export_id = export_id
        self.segment_id = segment_id
        self.full = full
        self.on_progress = on_progress
        self.users_count = 0
        self.imported = 0
        self.added = 0
        self.removed = 0
        self.brevo_calls = 0
        self.poll_delay = float(settings.BREVO_PROCESS_POLL_DELAY)

    def run(self) -> None:
        segment = Segment.objects.filter(pk=self.segment_id).first()
        if segment is None:
            raise _AbandonedError
        self.client = brevo_client()
        _refresh_member_statistics()
        audience = reachable_users(matching_users(Criteria.of(segment)))
        self.users_count = audience.count()
        self._heartbeat("counted")
        list_id = segment.brevo_list_id or self._list_replace(segment, missing_list_id=None)
        try:
            self._mirror(audience, list_id)
        except _ListMissingError:
            # Deleted on Brevo's side: what we exported there is gone with it. Start over on a
            # new list; nothing is left to remove, everyone is imported again.
            list_id = self._list_replace(segment, missing_list_id=list_id)
            self.imported = self.added = self.removed = 0
            try:
                self._mirror(audience, list_id)
            except _ListMissingError:
                raise _SyncFailedError(
                    f"Brevo list {list_id} disappeared while it was being filled; run the sync again."
                ) from None
        now = timezone.now()
        finished = SegmentExport.objects.filter(pk=self.export_id, status=ExportStatus.RUNNING).update(
            status=ExportStatus.SUCCESS,
            users_count=self.users_count,
            added_count=self.added,
            removed_count=self.removed,
            error_message="",
            finished_at=now,
            heartbeat_at=now,
        )
        if not finished:
            raise _AbandonedError
        self._report("done")

    def _mirror(self, audience: QuerySet[User], list_id: int) -> None:
        self._import_changes(audience, list_id)
        # The removal diff reads what the imports just wrote: plan it on fresh statistics.
        _refresh_member_statistics(changed_rows=self.imported)
        self._remove_departed(audience, list_id)
        _refresh_member_statistics(changed_rows=self.removed)
        if self.brevo_calls == 0:
            # Nothing changed, so nothing touched Brevo: check the list still exists there.
            self._call(lambda: self.client.list_get(list_id=list_id))

    def _list_replace(self, segment: Segment, *, missing_list_id: int | None) -> int:
        """Create a list for the segment (none yet, or `missing_list_id` deleted in Brevo)."""
        with transaction.atomic():
            locked = Segment.objects.select_for_update().filter(pk=segment.pk).first()
            if locked is None:
                raise _AbandonedError
            if locked.brevo_list_id is not None and locked.brevo_list_id != missing_list_id:
                return locked.brevo_list_id
            SegmentListMember.objects.filter(segment_id=segment.pk).delete()
        list_id = _list_create(self.client, name=segment.name)
        self.brevo_calls += 1
        updated = Segment.objects.filter(pk=segment.pk, brevo_list_id=missing_list_id).update(brevo_list_id=list_id)
        if not updated:
            # The segment was deleted (or got a list) meanwhile: do not leave an orphan behind.
            self.client.list_delete(list_id=list_id)
            raise _AbandonedError
        logger.info("segment %s now mirrors Brevo list %s", segment.pk, list_id)
        return list_id

    def _call(self, call: Callable[[], _T], *, on_list: bool = True) -> _T:
        """Run one client call; a 404 on a call about the list means the list is gone."""
        self.brevo_calls += 1
        try:
            return call()
        except BrevoError as error:
            if on_list and error.not_found:
                raise _ListMissingError from error
            raise

    # -- imports --------------------------------------------------------------------------------

    def _import_changes(self, audience: QuerySet[User], list_id: int) -> None:
        exported = SegmentListMember.objects.filter(segment_id=self.segment_id, email=Lower(OuterRef("email")))
        candidates = audience.annotate(was_exported=Exists(exported))
        if not self.full:
            unchanged = exported.filter(
                first_name=OuterRef("first_name"), last_name=OuterRef("last_name"), phone=OuterRef("phone")
            )
            candidates = candidates.exclude(Exists(unchanged))
        stream = candidates.order_by("pk").values_list(*_Row._fields)

        batch = self._new_batch(list_id)
        chunk: list[_Row] = []
        for values in stream.iterator(chunk_size=USER_STREAM_CHUNK):
            row = _Row(*values)
            if not batch.add(row.contact()):
                self._import_chunk(batch, chunk)
                batch, chunk = self._new_batch(list_id), []
                batch.add(row.contact())
            chunk.append(row)
        if chunk:
            self._import_chunk(batch, chunk)

    @staticmethod
    def _new_batch(list_id: int) -> ImportBatch:
        return ImportBatch(list_id=list_id, max_bytes=IMPORT_CHUNK_BYTES, max_contacts=IMPORT_CHUNK_MAX_CONTACTS)

    def _import_chunk(self, batch: ImportBatch, chunk: list[_Row]) -> None:
        process_id = self._call(lambda: self.client.contacts_import(batch=batch))
        self._heartbeat("importing")
        self._wait_for(process_id)
        # Only now is the chunk in the list: record it, so a re-run does not send it again.
        self._record_exported(chunk)
        self.imported += len(chunk)
        self.added += sum(1 for row in chunk if not row.was_exported)
        self._heartbeat("imported")

    def _record_exported(self, chunk: list[_Row]) -> None:
        """Upsert the chunk's members with the values just sent to Brevo.

        Raw SQL because this is the sync's hot loop: bulk_create builds a model instance per
        row (seconds per 100,000), and psycopg's executemany sends one INSERT per row. On
        PostgreSQL one statement per batch takes the rows as one JSON document (quoting arrays
        in Python was slower still); SQLite, in-process, runs executemany fast. ON CONFLICT ...
        DO UPDATE is spelled the same in both.
        """
        exported_at = connection.ops.adapt_datetimefield_value(timezone.now())
        with connection.cursor() as cursor:
            for start in range(0, len(chunk), MEMBER_WRITE_BATCH):
                batch = chunk[start : start + MEMBER_WRITE_BATCH]
                if connection.vendor == "postgresql":
                    members = json.dumps(
                        [
                            {
                                "email": row.email.lower(),
                                "first_name": row.first_name,
                                "last_name": row.last_name,
                                "phone": row.phone,
                            }
                            for row in batch
                        ]
                    )
                    cursor.execute(_MEMBER_UPSERT_JSON_SQL, [self.segment_id, exported_at, members])
                else:
                    cursor.executemany(
                        _MEMBER_UPSERT_SQL,
                        [
                            (self.segment_id, exported_at, row.email.lower(), row.first_name, row.last_name, row.phone)
                            for row in batch
                        ],
                    )

    def _wait_for(self, process_id: int) -> None:
        """Poll Brevo's import process with doubling delays until it completes."""
        delay = self.poll_delay
        deadline = time.monotonic() + PROCESS_TIMEOUT.total_seconds()
        for _ in range(PROCESS_MAX_POLLS):
            time.sleep(delay)
            answer = self._call(lambda: self.client.process_get(process_id=process_id), on_list=False)
            status = answer.get("status")
            self._heartbeat("importing")
            if status == "completed":
                return
            if status == "failed":
                raise _SyncFailedError(
                    f"Brevo's import process {process_id} failed. Contacts already confirmed are kept; "
                    "run the sync again to send the rest."
                )
            if time.monotonic() > deadline:
                break
            delay = min(max(delay * 2, 0.001), PROCESS_POLL_MAX_DELAY)
        raise _SyncFailedError(
            f"Brevo's import process {process_id} did not finish in time (still {status!r}). "
            "Run the sync again later: nothing is sent twice."
        )

    # -- removals -------------------------------------------------------------------------------

    def _remove_departed(self, audience: QuerySet[User], list_id: int) -> None:
        members = SegmentListMember.objects.filter(segment_id=self.segment_id)
        audience_emails = audience.annotate(email_lower=Lower("email"))
        if connection.vendor == "postgresql":
            # NOT EXISTS becomes a hash or merge anti-join; NOT IN over a large subquery would
            # fall back to re-scanning it per member once it outgrows work_mem.
            gone = members.exclude(Exists(audience_emails.filter(email_lower=OuterRef("email"))))
        else:
            # SQLite runs a correlated NOT EXISTS per member and, without statistics, probes the
            # users by criteria instead of by address (quadratic); NOT IN builds the set once.
            gone = members.exclude(email__in=audience_emails.values("email_lower"))
        departed = gone.order_by("email").values_list("email", flat=True)
        # Keyset pages: each batch starts after the last address handled, so no page is re-read
        # and rows deleted behind us never shift the next page.
        after = ""
        while True:
            emails = list(departed.filter(email__gt=after)[:MAX_EMAILS_PER_LIST_CHANGE])
            if not emails:
                return
            self._call(partial(self.client.list_remove, list_id=list_id, emails=emails))
            SegmentListMember.objects.filter(segment_id=self.segment_id, email__in=emails).delete()
            self.removed += len(emails)
            after = emails[-1]
            self._heartbeat("removing")

    # -- progress -------------------------------------------------------------------------------

    def _heartbeat(self, step: str) -> None:
        alive = SegmentExport.objects.filter(pk=self.export_id, status=ExportStatus.RUNNING).update(
            heartbeat_at=timezone.now(),
            users_count=self.users_count,
            added_count=self.added,
            removed_count=self.removed,
        )
        if not alive:
            raise _AbandonedError
        self._report(step)

    def _report(self, step: str) -> None:
        if self.on_progress is not None:
            self.on_progress(
                SyncProgress(
                    step=step,
                    users_count=self.users_count,
                    imported=self.imported,
                    added=self.added,
                    removed=self.removed,
                )
            )
