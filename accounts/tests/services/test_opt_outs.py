"""Opt-outs and the suppression list: who they exclude from every audience, and the writes."""

from __future__ import annotations

import pytest
from django.db import IntegrityError, transaction

from accounts.models import OptOutMethod, Suppression, SuppressionReason, User
from accounts.services import reachability_rule, suppression_add, user_opt_in, user_opt_out
from campaigns.models import SubscriptionChange
from segments.selectors import reachable_users

pytestmark = pytest.mark.django_db


def test_reachable_users_excludes_suppressed_addresses_whatever_their_case(make_user, reachable_emails):
    kept = make_user(email="kept@example.com")
    make_user(email="Bounced@Example.com")

    suppression_add(email="BOUNCED@example.COM", reason=SuppressionReason.HARD_BOUNCE, source="test")

    assert reachable_emails() == {kept.email}


def test_reachable_users_excludes_opted_out_and_unverified(make_user, reachable_emails):
    kept = make_user()
    opted_out = make_user()
    make_user(is_verified=False)

    user_opt_out(user=opted_out, method=OptOutMethod.ADMIN)

    assert reachable_emails() == {kept.email}


def test_opting_back_in_restores_reachability(make_user, reachable_emails):
    user = make_user()
    user_opt_out(user=user, method=OptOutMethod.LINK)
    suppression_add(email=user.email, reason=SuppressionReason.UNSUBSCRIBE, source="brevo:unsubscribe")

    assert user_opt_in(user=user, method=OptOutMethod.LINK) is True

    assert reachable_emails() == {user.email}
    assert user_opt_in(user=user, method=OptOutMethod.LINK) is False
    assert SubscriptionChange.objects.filter(opted_out=False).count() == 1


def test_suppression_of_an_address_without_an_account_covers_a_later_signup(make_user, reachable_emails):
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


def test_suppression_add_is_idempotent_and_keeps_the_first_reason():
    assert suppression_add(email=" Someone@Example.com ", reason=SuppressionReason.HARD_BOUNCE, source="a") is True
    assert suppression_add(email="someone@example.com", reason=SuppressionReason.COMPLAINT, source="b") is False

    entry = Suppression.objects.get()
    assert (entry.email, entry.reason, entry.source) == ("someone@example.com", SuppressionReason.HARD_BOUNCE, "a")


def test_the_database_refuses_an_address_that_is_not_lower_case():
    with pytest.raises(IntegrityError), transaction.atomic():
        Suppression.objects.create(email="Upper@example.com", reason=SuppressionReason.MANUAL)
