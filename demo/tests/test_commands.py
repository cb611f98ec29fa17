import re
from io import StringIO

import pytest
from django.core.management import CommandError, call_command

from accounts.models import Role, Suppression, User
from campaigns.models import SubscriptionChange
from demo.services import ADMIN_EMAIL

pytestmark = pytest.mark.django_db


def test_the_command_prints_a_summary_and_creates_the_admin_once():
    out = StringIO()
    call_command("seed_demo", "--users", "60", "--seed", "2", stdout=out)
    text = out.getvalue()
    assert "Seeded 60 demo users (seed 2)" in text
    assert re.search(r"users\s+60 new\s+61 in total", text)  # 60 demo users and the admin
    password = re.search(rf"Superuser {ADMIN_EMAIL} created with password: (\S+)", text).group(1)
    admin = User.objects.get(email=ADMIN_EMAIL)
    assert admin.is_superuser
    assert admin.check_password(password)
    assert list(admin.groups.values_list("name", flat=True)) == [Role.ADMIN]
    assert "Examples: 6 new segments, 3 new draft campaigns." in text

    out = StringIO()
    call_command("seed_demo", "--users", "60", "--seed", "2", stdout=out)
    text = out.getvalue()
    assert f"Superuser {ADMIN_EMAIL} already exists" in text
    assert "password:" not in text
    assert "Examples: 0 new segments, 0 new draft campaigns." in text
    assert re.search(r"users\s+0 new\s+61 in total", text)
    admin.refresh_from_db()
    assert admin.check_password(password)
    assert User.objects.filter(email=ADMIN_EMAIL).count() == 1


def test_the_command_refuses_a_negative_size():
    with pytest.raises(CommandError, match="--users"):
        call_command("seed_demo", "--users", "-1")


def test_suppressions_and_opt_outs_are_added_once_and_leave_those_people_unreachable():
    out = StringIO()
    call_command("seed_demo", "--users", "80", "--suppressions", "20", "--opt-outs", "10", stdout=out)

    assert "Unreachable: 20 new suppressions, 10 new opt-outs." in out.getvalue()
    suppressed = set(Suppression.objects.values_list("email", flat=True))
    assert len(suppressed) == 20
    on_users = User.objects.filter(email__in=suppressed)
    assert on_users.count() == 18
    assert not on_users.filter(reachable=True).exists()
    opted = User.objects.filter(email_opted_out_at__isnull=False)
    assert opted.count() == 10
    assert not opted.filter(reachable=True).exists()
    assert all(user.date_joined <= user.email_opted_out_at for user in opted)
    assert SubscriptionChange.objects.filter(opted_out=True, user__in=opted).count() == 10

    out = StringIO()
    call_command("seed_demo", "--users", "80", "--suppressions", "20", "--opt-outs", "10", stdout=out)

    assert "Unreachable: 0 new suppressions, 0 new opt-outs." in out.getvalue()
    assert set(Suppression.objects.values_list("email", flat=True)) == suppressed
    assert SubscriptionChange.objects.count() == 10


def test_the_command_refuses_negative_suppressions_or_opt_outs():
    with pytest.raises(CommandError, match="--suppressions and --opt-outs"):
        call_command("seed_demo", "--users", "5", "--opt-outs", "-1")
