import re
from datetime import UTC, datetime, timedelta

import pytest
from django.contrib.auth.models import Group

from accounts.models import Enrollment, Lead, LeadStatus, MembershipStatus, PartnershipStatus, Property, Role, User
from campaigns.models import Campaign, CampaignStatus
from demo.population import JOIN_WINDOW
from demo.rows import USER_COLUMNS, demo_property_count
from demo.services import ADMIN_EMAIL, demo_examples_ensure, demo_seed
from segments.models import Segment

pytestmark = pytest.mark.django_db

NOW = datetime(2026, 6, 1, tzinfo=UTC)
SIZE = 400


def demo_queryset():
    return User.objects.filter(email__regex=r"^user[0-9]{7}@example\.com$")


def snapshot():
    """Everything a seed decides, without database ids or the (random) unusable hash."""
    users = list(
        demo_queryset()
        .order_by("email")
        # The columns the seeder fills, then the ones it translates on the way in.
        .values_list(*USER_COLUMNS, "date_joined", "referred_by_partner__email", "groups__name")
    )
    properties = list(Property.objects.order_by("code").values_list("code", "name"))
    enrollments = list(
        Enrollment.objects.order_by("user__email", "property__code").values_list(
            "user__email", "property__code", "agent__email", "created_at"
        )
    )
    leads = sorted(
        Lead.objects.values_list("user__email", "agent__email", "status", "created_at", "closed_at"),
        key=repr,  # agent and closed_at may be None
    )
    return users, properties, enrollments, leads


@pytest.fixture
def seeded():
    return demo_seed(users=SIZE, seed=3, now=NOW)


def test_a_small_run_has_the_variety_it_claims(seeded):
    users = demo_queryset()
    assert users.count() == SIZE
    by_role = {role: users.filter(role=role).count() for role in Role.values}
    assert by_role[Role.ADMIN] == 0
    assert all(by_role[role] > 0 for role in (Role.MANAGER, Role.STAFF, Role.AGENT, Role.PARTNER, Role.CLIENT))
    assert by_role[Role.CLIENT] > 0.75 * SIZE
    assert by_role[Role.MANAGER] < by_role[Role.STAFF] < by_role[Role.CLIENT]

    assert set(users.values_list("membership_status", flat=True)) == set(MembershipStatus.values)
    verified_share = users.filter(is_verified=True).count() / SIZE
    assert 0.75 < verified_share < 0.95
    assert {"", "MALE", "FEMALE"} <= set(users.values_list("gender", flat=True))

    countries = set(users.exclude(country="").values_list("country", flat=True))
    assert len(countries) >= 6
    assert all(re.fullmatch(r"[A-Z]{2}", country) for country in countries)
    assert users.filter(country="US", state="California").exists() or users.filter(country="US", state="Texas").exists()
    # States belong to their country: no user has a US state with another country.
    assert not users.filter(state="California").exclude(country="US").exists()

    sources = set(users.values_list("referral_source", flat=True))
    assert {"google", "facebook", "instagram", "partner", "newsletter", "direct"} <= sources
    phones = [phone for phone in users.values_list("phone", flat=True) if phone]
    assert len(phones) > 0.8 * SIZE
    assert all(re.fullmatch(r"\+[1-9]\d{9,14}", phone) for phone in phones)

    joined = list(users.values_list("date_joined", flat=True))
    assert min(joined) >= NOW - JOIN_WINDOW
    assert max(joined) <= NOW
    assert max(joined) - min(joined) > timedelta(days=365)
    assert not any(user.has_usable_password() for user in users[:20])

    assert Property.objects.filter(code__startswith="DEMO-").count() == demo_property_count(SIZE) == 5


def test_enrollments_and_leads_hang_off_clients_with_agents(seeded):
    enrollments = Enrollment.objects.all()
    assert enrollments.exists()
    assert set(enrollments.values_list("user__role", flat=True)) == {Role.CLIENT}
    assert enrollments.filter(agent__isnull=False).exists()
    assert set(enrollments.filter(agent__isnull=False).values_list("agent__role", flat=True)) == {Role.AGENT}
    assert enrollments.filter(agent__isnull=True).exists()
    assert all(e.created_at >= e.user.date_joined for e in enrollments.select_related("user"))

    leads = Lead.objects.all()
    assert set(leads.values_list("status", flat=True)) == set(LeadStatus.values)
    assert not leads.filter(status=LeadStatus.OPEN, closed_at__isnull=False).exists()
    assert not leads.exclude(status=LeadStatus.OPEN).filter(closed_at__isnull=True).exists()
    closed = leads.filter(status=LeadStatus.CLOSED)
    assert closed.exists()
    assert all(lead.created_at <= lead.closed_at <= NOW for lead in closed)
    assert set(leads.exclude(agent=None).values_list("agent__role", flat=True)) == {Role.AGENT}


def test_partners_have_statuses_and_referred_users(seeded):
    users = demo_queryset()
    partners = users.filter(role=Role.PARTNER)
    statuses = list(partners.values_list("partnership_status", flat=True))
    assert statuses.count(PartnershipStatus.ACTIVE) > len(statuses) / 2
    assert not users.exclude(role=Role.PARTNER).exclude(partnership_status="").exists()

    referred = users.filter(referred_by_partner__isnull=False)
    assert referred.count() > 0.05 * SIZE
    assert set(referred.values_list("referral_source", flat=True)) == {"partner"}
    assert set(referred.values_list("referred_by_partner__role", flat=True)) == {Role.PARTNER}
    assert referred.filter(referred_by_partner__partnership_status=PartnershipStatus.ACTIVE).exists()
    # Pending partners have not brought anyone yet.
    assert not referred.filter(referred_by_partner__partnership_status=PartnershipStatus.PENDING).exists()
    assert not users.filter(referral_source="partner", referred_by_partner__isnull=True).exists()


def test_every_user_is_in_exactly_the_group_of_its_role(seeded):
    groups = dict(Group.objects.values_list("name", "id"))
    memberships = User.groups.through.objects.filter(user__in=demo_queryset())
    assert memberships.count() == SIZE
    for role, group_id in memberships.values_list("user__role", "group_id"):
        assert groups[role] == group_id
    manager = demo_queryset().filter(role=Role.MANAGER).first()
    assert manager.is_staff
    assert manager.has_perm("segments.change_segment")
    assert not demo_queryset().filter(role=Role.CLIENT, is_staff=True).exists()


def test_the_same_seed_gives_the_same_data():
    demo_seed(users=150, seed=11, now=NOW)
    first = snapshot()
    demo_queryset().delete()
    Property.objects.all().delete()

    demo_seed(users=150, seed=11, now=NOW)
    assert snapshot() == first

    demo_queryset().delete()
    Property.objects.all().delete()
    demo_seed(users=150, seed=12, now=NOW)
    assert snapshot() != first


def test_a_run_over_existing_users_gives_what_a_fresh_run_gives():
    # On PostgreSQL a fresh run COPYs straight into the tables and a run over existing demo users
    # merges through staging tables: both must produce the same data.
    demo_seed(users=300, seed=4, now=NOW)
    fresh = snapshot()
    demo_queryset().delete()
    Property.objects.all().delete()

    demo_seed(users=1, seed=4, now=NOW)
    demo_seed(users=300, seed=4, now=NOW)
    assert snapshot() == fresh


def test_a_second_run_adds_nothing(seeded):
    before = snapshot()
    again = demo_seed(users=SIZE, seed=3, now=NOW)
    assert set(again.inserted.values()) == {0}
    assert snapshot() == before
    assert again.totals["users"] == SIZE


def test_a_larger_run_adds_only_the_new_users_and_their_rows(seeded):
    old_leads = set(Lead.objects.values_list("id", flat=True))
    old_users = set(demo_queryset().values_list("id", flat=True))
    old_enrollments = sorted(Enrollment.objects.values_list("user_id", "property_id"))

    report = demo_seed(users=SIZE + 100, seed=3, now=NOW)

    assert report.inserted["users"] == 100
    assert demo_queryset().count() == SIZE + 100
    assert Lead.objects.count() == len(old_leads) + report.inserted["leads"]
    # The existing users' rows are untouched: nothing new hangs off them.
    assert not Lead.objects.filter(user_id__in=old_users).exclude(id__in=old_leads).exists()
    assert sorted(Enrollment.objects.filter(user_id__in=old_users).values_list("user_id", "property_id")) == (
        old_enrollments
    )
    assert User.groups.through.objects.filter(user__in=demo_queryset()).count() == SIZE + 100


def test_examples_go_through_the_segment_and_campaign_services_once(seeded):
    admin = User.objects.create_superuser(email=ADMIN_EMAIL, password="x-Example-123")
    assert demo_examples_ensure(by=admin) == (6, 3)
    segments = Segment.objects.all()
    assert segments.count() == 6
    assert all(segment.created_by == admin for segment in segments)
    # segment_create stored fresh counts: the examples are not empty.
    assert all(segment.matching_count > 0 for segment in segments)
    assert Segment.objects.get(name="Referred by our first partners").partners.exists()
    drafts = Campaign.objects.all()
    assert drafts.count() == 3
    assert set(drafts.values_list("status", flat=True)) == {CampaignStatus.DRAFT}
    assert drafts.filter(segment__isnull=False).count() == 2

    assert demo_examples_ensure(by=admin) == (0, 0)
    assert Segment.objects.count() == 6
    assert Campaign.objects.count() == 3
