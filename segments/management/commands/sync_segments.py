"""Operator's Brevo sync: the same service the API and the admin call, queued or run here."""

from __future__ import annotations

import time
from typing import Any

from django.core.management.base import BaseCommand, CommandError, CommandParser

from core.errors import DomainError
from segments.models import ExportStatus, Segment, SegmentExport
from segments.services import SegmentSyncInProgressError, segment_sync_run, segment_sync_start
from segments.services.exports import SyncProgress

# While running inline, progress lines are printed at most this often (plus every step change).
PROGRESS_EVERY_SECONDS = 2.0


class Command(BaseCommand):
    help = (
        "Mirror segments into their Brevo lists. Queues one sync per segment for the workers, or "
        "with --wait runs them here one after the other, printing progress and the result. "
        "Exits with an error when a sync fails or cannot start."
    )

    def add_arguments(self, parser: CommandParser) -> None:
        parser.add_argument("segment_ids", nargs="*", type=int, metavar="ID", help="Segments to sync.")
        parser.add_argument("--all", action="store_true", help="Sync every segment.")
        parser.add_argument("--wait", action="store_true", help="Run the syncs in this process and wait for them.")
        parser.add_argument(
            "--full", action="store_true", help="Re-import every member, not only the changes since the last sync."
        )

    def handle(self, *args: Any, **options: Any) -> None:
        ids: list[int] = options["segment_ids"]
        if bool(ids) == bool(options["all"]):
            raise CommandError("Name segment ids, or pass --all (not both).")
        segments = Segment.objects.order_by("pk") if options["all"] else Segment.objects.filter(pk__in=ids)
        found = list(segments)
        missing = sorted(set(ids) - {segment.pk for segment in found})
        if missing:
            raise CommandError(f"No segment(s) {', '.join(map(str, missing))}.")

        problems = 0
        for segment in found:
            label = f"Segment {segment.pk} “{segment.name}”"
            try:
                export = segment_sync_start(segment=segment, by=None, full=options["full"], enqueue=not options["wait"])
            except SegmentSyncInProgressError as error:
                self.stdout.write(self.style.WARNING(f"{label}: skipped, {error.message}"))
                problems += 1
                continue
            except DomainError as error:
                raise CommandError(f"{label}: {error.message}") from error
            if not options["wait"]:
                self.stdout.write(f"{label}: queued (export {export.pk}).")
                continue
            export = segment_sync_run(export=export, on_progress=_Printer(self, label))
            problems += self._report(label, export)
        if problems:
            raise CommandError(f"{problems} of {len(found)} sync(s) did not succeed.")

    def _report(self, label: str, export: SegmentExport) -> int:
        if export.status == ExportStatus.SUCCESS:
            self.stdout.write(
                self.style.SUCCESS(
                    f"{label}: SUCCESS (export {export.pk}): {export.users_count} reachable users, "
                    f"{export.added_count} added, {export.removed_count} removed."
                )
            )
            return 0
        self.stdout.write(self.style.ERROR(f"{label}: {export.status} (export {export.pk}): {export.error_message}"))
        return 1


class _Printer:
    """Progress lines for one inline sync, throttled so a long removal does not flood the terminal."""

    def __init__(self, command: Command, label: str) -> None:
        self.command = command
        self.label = label
        self.last_step = ""
        self.last_printed = 0.0

    def __call__(self, progress: SyncProgress) -> None:
        now = time.monotonic()
        if progress.step == self.last_step and now - self.last_printed < PROGRESS_EVERY_SECONDS:
            return
        self.last_step, self.last_printed = progress.step, now
        self.command.stdout.write(
            f"{self.label}: {progress.step}: {progress.users_count} reachable, {progress.imported} imported "
            f"({progress.added} new), {progress.removed} removed"
        )
