"""The daily flush of expired refresh tokens."""

from __future__ import annotations

from datetime import timedelta

import pytest
from django.utils import timezone
from rest_framework_simplejwt.token_blacklist.models import BlacklistedToken, OutstandingToken
from rest_framework_simplejwt.tokens import RefreshToken

from accounts.jobs import expired_tokens_flush_job
from accounts.models import Role

pytestmark = pytest.mark.django_db


def test_expired_refresh_tokens_are_flushed_with_their_blacklist_rows_and_live_ones_kept(make_user) -> None:
    user = make_user(Role.MANAGER)
    live = RefreshToken.for_user(user)
    expired = RefreshToken.for_user(user)
    expired.blacklist()
    OutstandingToken.objects.filter(jti=expired["jti"]).update(expires_at=timezone.now() - timedelta(seconds=1))

    expired_tokens_flush_job()

    assert list(OutstandingToken.objects.values_list("jti", flat=True)) == [live["jti"]]
    assert not BlacklistedToken.objects.exists()


def test_the_flush_runs_daily_from_cron() -> None:
    from rq import cron

    import config.cron  # noqa: F401  (registers its jobs on import)

    registered = {entry["func"]: entry["interval"] for entry in cron._job_data_registry}
    assert registered[expired_tokens_flush_job] == 86400
