"""The data migration that split opens into human and machine opens, run for real: the schema is
taken back to before it, rows are written the way the old code wrote them, and it runs forward
(and back) through Django's migration executor."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest
from django.db import connection
from django.db.migrations.executor import MigrationExecutor

BEFORE = ("campaigns", "0003_send_progress")
AFTER = ("campaigns", "0004_machine_opens")
T = datetime(2026, 10, 1, 9, 0, tzinfo=UTC)


def _at(hours: int) -> datetime:
    return T + timedelta(hours=hours)


def _migrate(target: list[tuple[str, str]]):
    executor = MigrationExecutor(connection)
    executor.migrate(target)
    return MigrationExecutor(connection).loader.project_state(target).apps


@pytest.fixture
def old_apps(transactional_db):
    apps = _migrate([BEFORE])
    yield apps
    # Back to the newest schema, whatever the test did, for the tests that follow.
    _migrate(MigrationExecutor(connection).loader.graph.leaf_nodes())


def _history(apps):
    """Ledger rows as the old processing left them (every open counted alike), with their events."""
    user_model = apps.get_model("accounts", "User")
    campaign_model = apps.get_model("campaigns", "Campaign")
    ledger = apps.get_model("campaigns", "CampaignRecipient")
    event_model = apps.get_model("campaigns", "TrackingEvent")
    campaign = campaign_model.objects.create(subject="Autumn", body_html="<p>x</p>", status="SENT")
    rows = {}
    # name -> (ledger values the old code stored, events (kind, hour, status))
    history = {
        "human": ({"open_count": 2, "first_opened_at": _at(1)}, [("unique_opened", 1), ("opened", 3)]),
        "machine": ({"open_count": 2, "first_opened_at": _at(2)}, [("unique_proxy_open", 2), ("proxy_open", 4)]),
        "mixed": (
            {"open_count": 4, "first_opened_at": _at(1)},
            [("unique_proxy_open", 1), ("unique_opened", 2), ("opened", 5), ("proxy_open", 6)],
        ),
        "machine_then_click": (
            {"open_count": 1, "first_opened_at": _at(1), "click_count": 1, "first_clicked_at": _at(3)},
            [("unique_proxy_open", 1), ("click", 3)],
        ),
        "no_events_kept": ({"open_count": 3, "first_opened_at": _at(1)}, []),
        "unprocessed_proxy_ignored": ({"open_count": 1, "first_opened_at": _at(2)}, [("unique_opened", 2)]),
        "never_opened": ({}, [("delivered", 0)]),
    }
    for number, (name, (values, events)) in enumerate(history.items()):
        user = user_model.objects.create(email=f"{name}@example.com")
        rows[name] = ledger.objects.create(
            campaign=campaign, user=user, email=user.email, status="SENT", message_id=f"<m{number}>", **values
        )
        for index, (kind, hour) in enumerate(events):
            event_model.objects.create(
                dedup_key=f"{name}-{index}",
                esp_event=kind,
                event_type="opened" if "open" in kind else kind,
                message_id=f"<m{number}>",
                occurred_at=_at(hour),
                payload={},
                status="PROCESSED",
                recipient=rows[name],
                campaign=campaign,
            )
    # A proxy open that matched no ledger row, and one that failed: neither was ever counted.
    event_model.objects.create(
        dedup_key="unmatched", esp_event="proxy_open", event_type="opened", payload={}, status="UNMATCHED"
    )
    event_model.objects.create(
        dedup_key="failed",
        esp_event="proxy_open",
        event_type="opened",
        payload={},
        status="FAILED",
        recipient=rows["unprocessed_proxy_ignored"],
    )
    return {name: row.pk for name, row in rows.items()}


FIELDS = ("open_count", "first_opened_at", "machine_open_count", "first_machine_opened_at", "last_engaged_at")


def test_opens_are_split_by_what_the_stored_events_say(old_apps):
    ids = _history(old_apps)

    new_apps = _migrate([AFTER])

    ledger = new_apps.get_model("campaigns", "CampaignRecipient")
    found = {name: ledger.objects.values(*FIELDS).get(pk=pk) for name, pk in ids.items()}
    expected = {
        "human": (2, _at(1), 0, None, _at(3)),
        "machine": (0, None, 2, _at(2), None),
        "mixed": (2, _at(2), 2, _at(1), _at(5)),
        # The click proves a person opened it; the proxy open before it does not count.
        "machine_then_click": (0, _at(3), 1, _at(1), _at(3)),
        # Opens without stored events cannot be told apart: they stay as they were counted.
        "no_events_kept": (3, _at(1), 0, None, _at(1)),
        "unprocessed_proxy_ignored": (1, _at(2), 0, None, _at(2)),
        "never_opened": (0, None, 0, None, None),
    }
    assert {name: tuple(values[field] for field in FIELDS) for name, values in found.items()} == expected


def test_going_back_counts_machine_opens_as_opens_again(old_apps):
    ids = _history(old_apps)
    old_ledger = old_apps.get_model("campaigns", "CampaignRecipient")
    before = {name: old_ledger.objects.values("open_count", "first_opened_at").get(pk=pk) for name, pk in ids.items()}
    _migrate([AFTER])

    back = _migrate([BEFORE]).get_model("campaigns", "CampaignRecipient")

    after = {name: back.objects.values("open_count", "first_opened_at").get(pk=pk) for name, pk in ids.items()}
    assert after == before
