"""Load a suppression list exported from another email tool (bounces, complaints, opt-outs)."""

from __future__ import annotations

from pathlib import Path
from typing import Any

from django.core.management.base import BaseCommand, CommandError, CommandParser

from accounts.models import SuppressionReason
from accounts.services import REASON_ALIASES, suppressions_import


class Command(BaseCommand):
    help = (
        "Import suppressed addresses from a CSV: email[,reason[,note]] per line, header optional. "
        "Bad rows are reported with their line number and skipped; addresses already suppressed "
        "are left as they are, so the same file can be imported again safely."
    )

    def add_arguments(self, parser: CommandParser) -> None:
        parser.add_argument("file", type=Path, help="CSV file (UTF-8); '-' is not accepted, give a path.")
        parser.add_argument(
            "--reason",
            default=SuppressionReason.MANUAL.value,
            help="Reason for rows without one (default MANUAL). Accepts the same names as the column.",
        )
        parser.add_argument("--source", default="", help="Recorded on each entry (default: import:<file name>).")
        parser.add_argument("--dry-run", action="store_true", help="Validate and count, write nothing.")
        parser.add_argument(
            "--strict", action="store_true", help="Write nothing at all if any row is bad (exit status 1)."
        )

    def handle(self, *args: Any, **options: Any) -> None:
        path: Path = options["file"]
        default_reason = REASON_ALIASES.get(options["reason"].strip().lower())
        if default_reason is None:
            raise CommandError(f"Unknown --reason {options['reason']!r}.")
        if not path.is_file():
            raise CommandError(f"No such file: {path}")
        source = (options["source"] or f"import:{path.name}")[:100]

        def run(dry_run: bool) -> Any:
            with path.open(encoding="utf-8-sig", newline="") as handle:
                return suppressions_import(lines=handle, source=source, default_reason=default_reason, dry_run=dry_run)

        try:
            report = run(dry_run=options["dry_run"] or options["strict"])
            if options["strict"] and not report.errors and not options["dry_run"]:
                report = run(dry_run=False)
        except UnicodeDecodeError as exc:
            raise CommandError(f"{path} is not UTF-8 text ({exc.reason} at byte {exc.start}).") from exc

        for line_number, problem in report.errors:
            self.stderr.write(f"line {line_number}: {problem}")
        verb = "would add" if options["dry_run"] or (options["strict"] and report.errors) else "added"
        self.stdout.write(
            f"{report.rows} rows: {verb} {report.added}, already suppressed {report.already_suppressed}, "
            f"repeated in the file {report.duplicates}, bad {len(report.errors)}."
        )
        if options["strict"] and report.errors:
            raise CommandError("Nothing was imported because some rows are bad (--strict).")
