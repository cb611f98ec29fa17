"""The suppression list: who it excludes, how staff manage it, and the CSV import."""

from __future__ import annotations

from io import StringIO

import pytest
from django.core.management import CommandError, call_command
from django.db import IntegrityError, transaction
from django.urls import reverse

from accounts.models import OptOutMethod, Suppression, SuppressionReason, User
from accounts.services import reachability_rule, suppression_add, user_opt_in, user_opt_out
from accounts.services import suppression_import as suppression_import_service
from campaigns.models import SubscriptionChange
from segments.selectors import reachable_users

pytestmark = pytest.mark.django_db


def reachable_emails() -> set[str]:
    return set(reachable_users(User.objects.all()).values_list("email", flat=True))


# --- who is excluded ----------------------------------------------------------------------------


def test_reachable_users_excludes_suppressed_addresses_whatever_their_case(make_user):
    kept = make_user(email="kept@example.com")
    make_user(email="Bounced@Example.com")

    suppression_add(email="BOUNCED@example.COM", reason=SuppressionReason.HARD_BOUNCE, source="test")

    assert reachable_emails() == {kept.email}


def test_reachable_users_excludes_opted_out_and_unverified(make_user):
    kept = make_user()
    opted_out = make_user()
    make_user(is_verified=False)

    user_opt_out(user=opted_out, method=OptOutMethod.ADMIN)

    assert reachable_emails() == {kept.email}


def test_opting_back_in_restores_reachability(make_user):
    user = make_user()
    user_opt_out(user=user, method=OptOutMethod.LINK)
    suppression_add(email=user.email, reason=SuppressionReason.UNSUBSCRIBE, source="brevo:unsubscribe")

    assert user_opt_in(user=user, method=OptOutMethod.LINK) is True

    assert reachable_emails() == {user.email}
    assert user_opt_in(user=user, method=OptOutMethod.LINK) is False
    assert SubscriptionChange.objects.filter(opted_out=False).count() == 1


def test_suppression_of_an_address_without_an_account_covers_a_later_signup(make_user):
    suppression_add(email="later@example.com", reason=SuppressionReason.COMPLAINT, source="test")

    make_user(email="later@example.com")

    assert reachable_emails() == set()


def test_reachable_users_query_uses_an_anti_join_not_a_join(make_user):
    # The rule reads the suppression list as an anti-join; `reachable_users` reads the flag the
    # database keeps from that rule (User.reachable), so it joins nothing at all.
    sql = str(User.objects.filter(reachability_rule()).query)

    assert "NOT (EXISTS(" in sql
    assert "JOIN" not in sql
    assert "JOIN" not in str(reachable_users(User.objects.all()).query)


# --- the model and the service ------------------------------------------------------------------


def test_suppression_add_is_idempotent_and_keeps_the_first_reason():
    assert suppression_add(email=" Someone@Example.com ", reason=SuppressionReason.HARD_BOUNCE, source="a") is True
    assert suppression_add(email="someone@example.com", reason=SuppressionReason.COMPLAINT, source="b") is False

    entry = Suppression.objects.get()
    assert (entry.email, entry.reason, entry.source) == ("someone@example.com", SuppressionReason.HARD_BOUNCE, "a")


def test_the_database_refuses_an_address_that_is_not_lower_case():
    with pytest.raises(IntegrityError), transaction.atomic():
        Suppression.objects.create(email="Upper@example.com", reason=SuppressionReason.MANUAL)


# --- the admin ------------------------------------------------------------------------------------


@pytest.fixture
def admin_client(client, admin_user):
    client.force_login(admin_user)
    return client


def test_admin_lists_and_filters_suppressions(admin_client):
    suppression_add(email="a@example.com", reason=SuppressionReason.HARD_BOUNCE, source="brevo:hard_bounce")
    suppression_add(email="b@example.com", reason=SuppressionReason.COMPLAINT, source="brevo:spam")

    response = admin_client.get(reverse("admin:accounts_suppression_changelist"), {"reason": "COMPLAINT"})

    assert response.status_code == 200
    assert b"b@example.com" in response.content
    assert b"a@example.com" not in response.content


def test_admin_adds_a_manual_suppression_lower_cased(admin_client, make_user):
    user = make_user(email="person@example.com")

    response = admin_client.post(
        reverse("admin:accounts_suppression_add"),
        {"email": "Person@Example.com", "reason": "MANUAL", "source": "admin", "note": "asked by phone"},
    )

    assert response.status_code == 302
    entry = Suppression.objects.get()
    assert (entry.email, entry.reason, entry.note) == ("person@example.com", "MANUAL", "asked by phone")
    assert not reachable_users(User.objects.filter(pk=user.pk)).exists()


def test_admin_refuses_a_second_entry_for_the_same_address_in_other_case(admin_client):
    suppression_add(email="person@example.com", reason=SuppressionReason.MANUAL, source="admin")

    response = admin_client.post(
        reverse("admin:accounts_suppression_add"), {"email": "PERSON@example.com", "reason": "MANUAL"}
    )

    assert response.status_code == 200
    assert "already exists" in response.context["adminform"].form.errors["email"][0]
    assert Suppression.objects.count() == 1


def test_admin_deleting_a_suppression_makes_the_address_reachable_again(admin_client, make_user):
    user = make_user()
    suppression_add(email=user.email, reason=SuppressionReason.MANUAL, source="admin")
    entry = Suppression.objects.get()

    response = admin_client.post(reverse("admin:accounts_suppression_delete", args=[entry.pk]), {"post": "yes"})

    assert response.status_code == 302
    assert reachable_emails() >= {user.email}


def test_admin_action_opts_users_out_and_records_it(admin_client, make_user):
    users = [make_user(), make_user()]
    user_opt_out(user=users[1], method=OptOutMethod.LINK)

    response = admin_client.post(
        reverse("admin:accounts_user_changelist"),
        {"action": "opt_out_of_campaign_email", "_selected_action": [user.pk for user in users]},
        follow=True,
    )

    assert "1 user(s) opted out; 1 already were." in response.content.decode()
    assert SubscriptionChange.objects.filter(user=users[0], method=OptOutMethod.ADMIN, opted_out=True).exists()
    assert not reachable_users(User.objects.filter(pk__in=[user.pk for user in users])).exists()


def test_managers_cannot_manage_suppressions(client, manager_user):
    client.force_login(manager_user)

    assert client.get(reverse("admin:accounts_suppression_changelist")).status_code == 403


# --- import_suppressions ----------------------------------------------------------------------


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
