"""`manage.py import_suppressions`: a CSV of suppressed addresses from another tool."""

from __future__ import annotations

from io import StringIO

import pytest
from django.core.management import CommandError, call_command

from accounts.models import Suppression, SuppressionReason
from accounts.services import suppression_add
from accounts.services import suppression_import as suppression_import_service

pytestmark = pytest.mark.django_db


def run_import(tmp_path, content: str, *args: str) -> tuple[str, str]:
    path = tmp_path / "suppressions.csv"
    path.write_text(content, encoding="utf-8")
    out, err = StringIO(), StringIO()
    call_command("import_suppressions", str(path), *args, stdout=out, stderr=err)
    return out.getvalue(), err.getvalue()


CSV = """email,reason,note
one@example.com,hard_bounce,from the old tool
TWO@example.com,spam
three@example.com,
not-an-email,unsubscribe
four@example.com,holiday
five@example.com,Unsubscribed
one@example.com,complaint
six@localhost,manual
"""


def test_import_adds_valid_rows_and_reports_bad_ones_with_line_numbers(tmp_path):
    out, err = run_import(tmp_path, CSV)

    assert dict(Suppression.objects.values_list("email", "reason")) == {
        "one@example.com": "HARD_BOUNCE",
        "two@example.com": "COMPLAINT",
        "three@example.com": "MANUAL",
        "five@example.com": "UNSUBSCRIBE",
    }
    assert Suppression.objects.get(email="one@example.com").note == "from the old tool"
    assert set(Suppression.objects.values_list("source", flat=True)) == {"import:suppressions.csv"}
    assert err.splitlines() == [
        "line 5: 'not-an-email' is not a valid email address",
        "line 6: unknown reason 'holiday' (use one of blocked, complaint, hard_bounce, manual, unsubscribe)",
        "line 9: 'six@localhost' is not a valid email address",
    ]
    assert out.strip() == "8 rows: added 4, already suppressed 0, repeated in the file 1, bad 3."


def test_import_is_idempotent_and_keeps_existing_entries(tmp_path):
    suppression_add(email="two@example.com", reason=SuppressionReason.HARD_BOUNCE, source="brevo:hard_bounce")
    run_import(tmp_path, CSV)

    out, _ = run_import(tmp_path, CSV)

    assert Suppression.objects.count() == 4
    assert Suppression.objects.get(email="two@example.com").source == "brevo:hard_bounce"
    assert "added 0, already suppressed 4" in out


def test_import_without_header_with_default_reason_and_source(tmp_path):
    run_import(tmp_path, "a@example.com\nb@example.com,\n", "--reason", "complaint", "--source", "mailchimp")

    assert set(Suppression.objects.values_list("email", "reason", "source")) == {
        ("a@example.com", "COMPLAINT", "mailchimp"),
        ("b@example.com", "COMPLAINT", "mailchimp"),
    }


def test_import_dry_run_writes_nothing(tmp_path):
    out, _ = run_import(tmp_path, CSV, "--dry-run")

    assert not Suppression.objects.exists()
    assert "would add 4" in out


def test_import_strict_writes_nothing_when_a_row_is_bad(tmp_path):
    with pytest.raises(CommandError, match="Nothing was imported"):
        run_import(tmp_path, CSV, "--strict")

    assert not Suppression.objects.exists()


def test_import_strict_writes_everything_when_all_rows_are_good(tmp_path):
    out, _ = run_import(tmp_path, "a@example.com,manual\nb@example.com,spam\n", "--strict")

    assert Suppression.objects.count() == 2
    assert "added 2" in out


def test_import_refuses_an_unknown_default_reason_and_a_missing_file(tmp_path):
    with pytest.raises(CommandError, match="Unknown --reason"):
        run_import(tmp_path, "a@example.com\n", "--reason", "whatever")
    with pytest.raises(CommandError, match="No such file"):
        call_command("import_suppressions", str(tmp_path / "missing.csv"))


def test_import_refuses_a_file_that_is_not_utf8(tmp_path):
    path = tmp_path / "latin1.csv"
    path.write_bytes("caf\xe9@example.com\n".encode("latin-1"))

    with pytest.raises(CommandError, match="not UTF-8"):
        call_command("import_suppressions", str(path))


def test_import_writes_in_bulk_chunks(tmp_path, monkeypatch, django_assert_max_num_queries):
    monkeypatch.setattr(suppression_import_service, "IMPORT_CHUNK_SIZE", 100)
    rows = "".join(f"user{number}@example.com,hard_bounce\n" for number in range(1000))

    # Two statements per chunk of 100 (look up existing, insert new): 10 chunks.
    with django_assert_max_num_queries(20):
        run_import(tmp_path, rows)

    assert Suppression.objects.count() == 1000
