"""A generated campaign history for the engagement criteria's tests, and what each criterion
should return computed from that history in plain Python, independently of the ledger queries.

The history goes through the real pipeline: ledger rows as sending leaves them, Brevo events
stored and processed by the tracking services, opt-outs and suppressions by the accounts
services. The expected answers are computed from the generated events, not from the ledger.
"""

from __future__ import annotations

import random
from collections import defaultdict
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from typing import Any

from django.utils import timezone

from accounts.models import MembershipStatus, OptOutMethod, SuppressionReason, User
from accounts.services import suppression_add, user_opt_out
from accounts.tests.factories import UserFactory
from campaigns.models import Campaign, CampaignRecipient, CampaignStatus, RecipientStatus
from campaigns.services.tracking import tracking_events_process_pending
from campaigns.services.tracking_intake import IncomingEvent, tracking_events_store
from campaigns.tests.factories import CampaignFactory, CampaignRecipientFactory

HUMAN_OPENS = ("unique_opened", "opened")
MACHINE_OPENS = ("unique_proxy_open", "proxy_open")
# Days ago each campaign started sending, away from whole days so that "within N days" windows
# never fall within the few seconds between generating the history and querying it.
CAMPAIGN_AGES = (1.6, 6.6, 20.6, 75.6)


@dataclass
class History:
    now: datetime
    users: list[User]
    campaigns: list[Campaign]
    reachable: set[int] = field(default_factory=set)
    active: set[int] = field(default_factory=set)
    # user id -> campaign ids of rows Brevo accepted, with when.
    received: dict[int, list[tuple[int, datetime]]] = field(default_factory=lambda: defaultdict(list))
    # user id -> campaign ids a person opened or clicked; clicked only.
    opened: dict[int, set[int]] = field(default_factory=lambda: defaultdict(set))
    clicked: dict[int, set[int]] = field(default_factory=lambda: defaultdict(set))
    machine_opened: dict[int, set[int]] = field(default_factory=lambda: defaultdict(set))
    # user id -> times of human opens and clicks, any campaign.
    engaged_at: dict[int, list[datetime]] = field(default_factory=lambda: defaultdict(list))

    def expected(self, criteria: dict[str, Any]) -> set[int]:
        """Users matching every criterion, computed from the generated events."""
        return {
            user.pk
            for user in self.users
            if all(self._matches(user.pk, name, value) for name, value in criteria.items())
        }

    def _matches(self, user_id: int, name: str, value: Any) -> bool:
        received = {campaign_id for campaign_id, _ in self.received[user_id]}
        if name == "membership":
            return user_id in self.active
        if name == "engaged_within_days":
            since = self.now - timedelta(days=value)
            return any(at >= since for at in self.engaged_at[user_id])
        if name == "not_engaged_within_days":
            since = self.now - timedelta(days=value)
            recent = {campaign_id for campaign_id, at in self.received[user_id] if at >= since}
            return bool(recent) and not recent & self.opened[user_id]
        ids = set(value)
        return {
            "received_campaigns": lambda: bool(received & ids),
            "opened_campaigns": lambda: bool(self.opened[user_id] & ids),
            "clicked_campaigns": lambda: bool(self.clicked[user_id] & ids),
            "not_opened_campaigns": lambda: bool(received & ids) and not self.opened[user_id] & ids,
            "not_clicked_campaigns": lambda: bool(received & ids) and not self.clicked[user_id] & ids,
        }[name]()


def generate_history(*, seed: int = 2026, users: int = 40) -> History:
    rng = random.Random(seed)
    now = timezone.now()
    people = []
    for number in range(users):
        # Some addresses carry capitals: ledger rows may hold another case of the same address.
        email = f"Person.{number}@Example.com" if number % 4 == 0 else f"person{number}@example.com"
        status = MembershipStatus.INACTIVE if number % 9 == 0 else MembershipStatus.ACTIVE
        people.append(UserFactory(email=email, is_verified=number % 7 != 3, membership_status=status))
    history = History(now=now, users=people, campaigns=[])
    history.active = {user.pk for user in people if user.membership_status == MembershipStatus.ACTIVE}
    statuses = (CampaignStatus.SENT, CampaignStatus.SENT, CampaignStatus.CANCELLED, CampaignStatus.PAUSED)
    message_number = 0
    events: list[IncomingEvent] = []
    for age, status in zip(CAMPAIGN_AGES, statuses, strict=True):
        started = now - timedelta(days=age)
        campaign = CampaignFactory(
            subject=f"News from {age} days ago", body_html="<p>x</p>", status=status, started_at=started
        )
        history.campaigns.append(campaign)
        for user in people:
            if rng.random() < 0.15:
                continue
            emails = [user.email.swapcase() if rng.random() < 0.3 else user.email]
            if rng.random() < 0.2:
                # The address changed after the snapshot and a resend reached the new one too.
                emails.append(f"moved.{message_number}@example.org")
            for index, email in enumerate(emails):
                row_status = rng.choices(
                    [RecipientStatus.SENT, RecipientStatus.FAILED, RecipientStatus.CANCELLED], [0.85, 0.1, 0.05]
                )[0]
                if index:
                    row_status = RecipientStatus.SENT
                message_number += 1
                # A resend reaches the new address days later: across the edge of some windows.
                sent_at = started + timedelta(minutes=rng.uniform(0, 90)) + index * timedelta(days=age / 2)
                row = CampaignRecipientFactory(
                    campaign=campaign,
                    user=user,
                    email=email,
                    status=row_status,
                    message_id=f"<{message_number}@smtp-relay.mailin.fr>" if row_status == RecipientStatus.SENT else "",
                    sent_at=sent_at if row_status == RecipientStatus.SENT else None,
                )
                if row_status == RecipientStatus.SENT:
                    history.received[user.pk].append((campaign.pk, sent_at))
                    events += _engagement(rng, history, row, sent_at)
        # A row whose user was deleted afterwards belongs to nobody.
        CampaignRecipientFactory(
            campaign=campaign, user=None, email=f"gone{campaign.pk}@example.com", status=RecipientStatus.SENT
        )
    tracking_events_store(events=events)
    tracking_events_process_pending()
    for number, user in enumerate(people):
        if number % 5 == 1:
            user_opt_out(user=user, method=OptOutMethod.ADMIN)
        if number % 6 == 2:
            suppression_add(email=user.email.upper(), reason=SuppressionReason.HARD_BOUNCE, source="test")
    history.reachable = {
        user.pk for number, user in enumerate(people) if number % 7 != 3 and number % 5 != 1 and number % 6 != 2
    }
    return history


def _engagement(rng: random.Random, history: History, row: CampaignRecipient, sent_at: datetime) -> list[IncomingEvent]:
    """Brevo's events for one accepted row, recorded in the history as they are generated."""
    user_id, campaign_id = row.user_id, row.campaign_id
    assert user_id is not None
    room = (history.now - sent_at).total_seconds() * 0.9

    def at(within_hours: float = 48) -> datetime:
        return sent_at + timedelta(seconds=rng.uniform(1, min(within_hours * 3600, room)))

    found = [_event(row, "delivered", at(0.1))]
    if rng.random() < 0.3:
        for kind in rng.sample(MACHINE_OPENS, rng.randint(1, 2)):
            found.append(_event(row, kind, at()))
        history.machine_opened[user_id].add(campaign_id)
    if rng.random() < 0.35:
        for kind in HUMAN_OPENS[: rng.randint(1, 2)]:
            when = at()
            found.append(_event(row, kind, when))
            history.opened[user_id].add(campaign_id)
            history.engaged_at[user_id].append(when)
    if rng.random() < 0.15:
        when = at()
        found.append(_event(row, "click", when, link="https://example.com/offer"))
        history.opened[user_id].add(campaign_id)
        history.clicked[user_id].add(campaign_id)
        history.engaged_at[user_id].append(when)
    if rng.random() < 0.1:
        # A late reader: opened long after the campaign, half a day off a whole number of days ago.
        days_ago = rng.randint(0, max(0, int((history.now - sent_at).days) - 1)) + 0.5
        when = history.now - timedelta(days=days_ago)
        if when > sent_at:
            found.append(_event(row, "opened", when))
            history.opened[user_id].add(campaign_id)
            history.engaged_at[user_id].append(when)
    return found


def _event(row: CampaignRecipient, kind: str, at: datetime, link: str | None = None) -> IncomingEvent:
    payload = {"event": kind, "email": row.email, "message-id": row.message_id, "ts_epoch": int(at.timestamp() * 1000)}
    if link:
        payload["link"] = link
    return IncomingEvent(
        event_type="opened" if "open" in kind else kind,
        message_id=row.message_id,
        recipient=row.email,
        timestamp=at,
        click_url=link,
        mta_response=None,
        payload=payload,
    )
