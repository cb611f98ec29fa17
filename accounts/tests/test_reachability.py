"""`User.reachable` equals the reachability rule after every kind of write (the services, the
model, the ORM's bulk updates, raw SQL, imports, erasure). Its repair is in
test_reachability_repair.py."""

from __future__ import annotations

import random

import pytest
from django.db import connection
from django.utils import timezone

from accounts.models import OptOutMethod, Suppression, SuppressionReason, User
from accounts.services import (
    person_erase,
    suppression_add,
    suppressions_import,
    user_opt_in,
    user_opt_out,
)
from accounts.tests.factories import UserFactory
from accounts.tests.reachability import by_rule, flags, reachable

pytestmark = pytest.mark.django_db


def test_a_new_user_is_reachable_once_verified_and_the_instance_knows_it():
    verified = UserFactory(is_verified=True)
    unverified = UserFactory(is_verified=False)

    assert (verified.reachable, reachable(verified)) == (True, True)
    assert (unverified.reachable, reachable(unverified)) == (False, False)

    unverified.is_verified = True
    unverified.save(update_fields=["is_verified"])

    assert (unverified.reachable, reachable(unverified)) == (True, True)


def test_an_account_created_for_an_address_already_suppressed_is_not_reachable():
    suppression_add(email="Gone@Example.com", reason=SuppressionReason.HARD_BOUNCE, source="brevo")

    user = UserFactory(email="gone@EXAMPLE.com")

    assert reachable(user) is False


def test_opting_out_and_back_in_through_the_services():
    user = UserFactory()

    user_opt_out(user=user, method=OptOutMethod.LINK)
    assert reachable(user) is False

    user_opt_in(user=user, method=OptOutMethod.LINK)
    assert reachable(user) is True


def test_suppressing_and_unsuppressing_an_address_in_any_case():
    user = UserFactory(email="Reader@Example.com")

    suppression_add(email="READER@example.com", reason=SuppressionReason.COMPLAINT, source="brevo")
    assert reachable(user) is False

    Suppression.objects.filter(email="reader@example.com").delete()
    assert reachable(user) is True


def test_a_suppression_import_marks_every_listed_user():
    listed = [UserFactory() for _ in range(3)]
    spared = UserFactory()

    report = suppressions_import(
        lines=[f"{user.email.upper()},bounced\n" for user in listed],
        source="import",
        default_reason=SuppressionReason.MANUAL,
    )

    assert report.added == 3
    assert [reachable(user) for user in [*listed, spared]] == [False, False, False, True]


def test_bulk_orm_updates_and_raw_sql_are_followed_too():
    user = UserFactory()
    suppression_add(email="taken@example.com", reason=SuppressionReason.MANUAL, source="admin")

    User.objects.filter(pk=user.pk).update(is_verified=False)
    assert reachable(user) is False
    User.objects.filter(pk=user.pk).update(is_verified=True, email="taken@example.com")
    assert reachable(user) is False
    with connection.cursor() as cursor:
        cursor.execute("UPDATE accounts_user SET email = %s WHERE id = %s", ["free@example.com", user.pk])
    assert reachable(user) is True
    User.objects.filter(pk=user.pk).update(email_opted_out_at=timezone.now())
    assert reachable(user) is False


def test_writing_the_flag_itself_is_overruled_by_the_rule():
    user = UserFactory(is_verified=False)

    User.objects.filter(pk=user.pk).update(reachable=True)

    assert reachable(user) is False


def test_a_suppression_moved_to_another_address_frees_the_first_and_stops_the_second():
    first, second = UserFactory(), UserFactory()
    suppression_add(email=first.email, reason=SuppressionReason.MANUAL, source="admin")

    Suppression.objects.filter(email=first.email.lower()).update(email=second.email.lower())

    assert (reachable(first), reachable(second)) == (True, False)


def test_an_erased_address_that_signs_up_again_is_not_reachable():
    person_erase(email="erased@example.com", by=None, via="command")

    assert reachable(UserFactory(email="erased@example.com")) is False


@pytest.mark.postgres
def test_emptying_the_suppression_list_at_once_frees_everyone_it_held():
    users = [UserFactory() for _ in range(3)]
    for user in users[:2]:
        suppression_add(email=user.email, reason=SuppressionReason.MANUAL, source="admin")

    with connection.cursor() as cursor:
        cursor.execute("TRUNCATE accounts_suppression")

    assert [reachable(user) for user in users] == [True, True, True]


def test_the_flag_never_drifts_from_the_rule_through_a_random_run_of_writes():
    rng = random.Random(7)
    users = [UserFactory(email=f"person{number}@example.com") for number in range(12)]
    addresses = [user.email for user in users] + ["stranger@example.com"]

    def opt_out(user: User) -> None:
        user_opt_out(user=user, method=OptOutMethod.ADMIN)

    def opt_in(user: User) -> None:
        user_opt_in(user=user, method=OptOutMethod.ADMIN)

    def suppress(user: User) -> None:
        address = rng.choice(addresses)
        suppression_add(email=rng.choice([address, address.upper()]), reason=SuppressionReason.UNSUBSCRIBE, source="t")

    def unsuppress(user: User) -> None:
        Suppression.objects.filter(email=rng.choice(addresses)).delete()

    def toggle_verified(user: User) -> None:
        user.refresh_from_db()
        user.is_verified = not user.is_verified
        user.save()

    def bulk_unverify(user: User) -> None:
        User.objects.filter(pk__in=[user.pk, rng.choice(users).pk]).update(is_verified=rng.random() < 0.5)

    def change_email(user: User) -> None:
        user.refresh_from_db()
        user.email = rng.choice([f"moved{rng.randrange(5)}@example.com", f"person{rng.randrange(12)}x@example.com"])
        if not User.objects.filter(email__iexact=user.email).exclude(pk=user.pk).exists():
            user.save(update_fields=["email"])

    writes = [opt_out, opt_in, suppress, unsuppress, toggle_verified, bulk_unverify, change_email]
    for step in range(150):
        write = rng.choice(writes)
        write(rng.choice(users))
        assert flags() == by_rule(), f"step {step}: {write.__name__}"
    assert 0 < sum(flags().values()) < len(users)
