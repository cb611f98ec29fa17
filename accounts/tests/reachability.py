"""The reachability rule computed in Python from the facts alone, and the flag the database keeps,
for the tests that compare them."""

from __future__ import annotations

from accounts.models import Suppression, User


def by_rule() -> dict[str, bool]:
    """The rule computed here, in Python, from the facts alone."""
    suppressed = set(Suppression.objects.values_list("email", flat=True))
    return {
        user.email: user.is_verified and user.email_opted_out_at is None and user.email.lower() not in suppressed
        for user in User.objects.all()
    }


def flags() -> dict[str, bool]:
    return dict(User.objects.values_list("email", "reachable"))


def reachable(user: User) -> bool:
    return User.objects.values_list("reachable", flat=True).get(pk=user.pk)
