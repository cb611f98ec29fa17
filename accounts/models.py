from __future__ import annotations

import hashlib
import hmac
from typing import Any, ClassVar

from django.conf import settings
from django.contrib.auth.models import AbstractBaseUser, BaseUserManager, Group, PermissionsMixin
from django.db import models, transaction
from django.db.models.functions import Lower
from django.utils import timezone


class Role(models.TextChoices):
    ADMIN = "ADMIN", "Admin"
    MANAGER = "MANAGER", "Manager"
    STAFF = "STAFF", "Staff"
    AGENT = "AGENT", "Agent"
    PARTNER = "PARTNER", "Partner"
    CLIENT = "CLIENT", "Client"


# Roles that may sign in to the admin and the staff API.
BACKOFFICE_ROLES = frozenset({Role.ADMIN, Role.MANAGER})
# The "staff" campaign preset: people who work for the organisation.
STAFF_ROLES = frozenset({Role.ADMIN, Role.MANAGER, Role.STAFF})


class MembershipStatus(models.TextChoices):
    ACTIVE = "ACTIVE", "Active"
    INACTIVE = "INACTIVE", "Inactive"


class Gender(models.TextChoices):
    MALE = "MALE", "Male"
    FEMALE = "FEMALE", "Female"
    PREFER_NOT_TO_SAY = "PREFER_NOT_TO_SAY", "Prefer not to say"


class PartnershipStatus(models.TextChoices):
    ACTIVE = "ACTIVE", "Active"
    PENDING = "PENDING", "Pending"
    SUSPENDED = "SUSPENDED", "Suspended"


# The user columns the reachability rule reads; the suppression list is the other input.
REACHABILITY_INPUTS = frozenset({"email", "is_verified", "email_opted_out_at"})


class UserManager(BaseUserManager["User"]):
    use_in_migrations = True

    def get_by_natural_key(self, username: str | None) -> User:
        # Email is the login and unique case-insensitively, so the lookup is too.
        return self.get(email__iexact=username)

    def _create(self, email: str, password: str | None, **extra: Any) -> User:
        if not email:
            raise ValueError("An email address is required.")
        user = self.model(email=self.normalize_email(email), **extra)
        user.set_password(password)
        user.save(using=self._db)
        user.join_role_group()
        return user

    def create_user(self, email: str, password: str | None = None, **extra: Any) -> User:
        extra.setdefault("is_superuser", False)
        return self._create(email, password, **extra)

    def create_superuser(self, email: str, password: str | None = None, **extra: Any) -> User:
        extra.update(is_superuser=True, role=Role.ADMIN, is_verified=True)
        return self._create(email, password, **extra)


class User(AbstractBaseUser, PermissionsMixin):
    """A person on the platform: staff, agents, partners and clients alike."""

    email = models.EmailField("email address", max_length=254, unique=True)
    first_name = models.CharField(max_length=150, blank=True)
    last_name = models.CharField(max_length=150, blank=True)
    phone = models.CharField(max_length=32, blank=True, help_text="International format, e.g. +447700900123.")
    role = models.CharField(max_length=16, choices=Role.choices, default=Role.CLIENT)
    membership_status = models.CharField(
        max_length=16, choices=MembershipStatus.choices, default=MembershipStatus.ACTIVE
    )
    is_verified = models.BooleanField("email verified", default=False)
    gender = models.CharField(max_length=32, choices=Gender.choices, blank=True)
    country = models.CharField(max_length=2, blank=True, help_text="ISO 3166-1 alpha-2 code.")
    state = models.CharField(max_length=100, blank=True)
    referral_source = models.CharField("traffic source", max_length=50, blank=True)
    referred_by_partner = models.ForeignKey(
        "self",
        null=True,
        blank=True,
        on_delete=models.SET_NULL,
        related_name="referred_users",
        limit_choices_to={"role": Role.PARTNER},
    )
    partnership_status = models.CharField(max_length=16, choices=PartnershipStatus.choices, blank=True)
    date_joined = models.DateTimeField(default=timezone.now)
    is_active = models.BooleanField(default=True, help_text="Can sign in. Unrelated to membership status.")
    email_opted_out_at = models.DateTimeField(
        "opted out of campaign email at",
        null=True,
        blank=True,
        help_text="Set when the person unsubscribes; campaigns never reach them while it is set.",
    )
    is_staff = models.BooleanField(default=False, editable=False, help_text="Follows the role.")
    # The answer of the reachability rule for this row, kept by the database (migration
    # 0004_reachable: triggers on this table and on suppressions), so counting who may be emailed
    # reads one column, or the covering index, instead of probing suppressions per user.
    reachable = models.BooleanField(
        "may be emailed",
        default=False,
        db_default=False,
        editable=False,
        help_text=(
            "Verified, not opted out, address not suppressed. Kept by the database (triggers on users "
            "and suppressions); never written by the application."
        ),
    )

    objects: ClassVar[UserManager] = UserManager()

    USERNAME_FIELD = "email"
    EMAIL_FIELD = "email"
    REQUIRED_FIELDS: ClassVar[list[str]] = []

    class Meta:
        constraints = [
            models.UniqueConstraint(Lower("email"), name="accounts_user_email_ci_unique"),
        ]
        indexes = [
            models.Index(fields=["gender"], name="acc_user_gender_idx"),
            models.Index(fields=["country", "state"], name="acc_user_country_state_idx"),
            models.Index(fields=["state"], name="acc_user_state_idx"),
            models.Index(fields=["referral_source"], name="acc_user_source_idx"),
            models.Index(fields=["membership_status"], name="acc_user_membership_idx"),
            models.Index(fields=["role"], name="acc_user_role_idx"),
        ]

    def __str__(self) -> str:
        return self.email

    @property
    def full_name(self) -> str:
        return f"{self.first_name} {self.last_name}".strip()

    @property
    def effective_role(self) -> str:
        """Superusers count as ADMIN whatever their stored role."""
        return Role.ADMIN if self.is_superuser else self.role

    def save(self, *args: Any, **kwargs: Any) -> None:
        # is_staff is derived from the role so the admin gate and the role can never disagree.
        self.is_staff = self.is_superuser or self.role in BACKOFFICE_ROLES
        update_fields = kwargs.get("update_fields")
        if update_fields is not None and "role" in update_fields:
            kwargs["update_fields"] = {*update_fields, "is_staff"}
        super().save(*args, **kwargs)
        if update_fields is None or "email" in update_fields:
            self._suppress_if_erased()
        if update_fields is None or REACHABILITY_INPUTS & set(update_fields):
            # The database decided `reachable` (its triggers); read back what it decided.
            self.reachable = User.objects.filter(pk=self.pk).values_list("reachable", flat=True).get()

    def _suppress_if_erased(self) -> None:
        # Someone erased earlier signs up again (or an address is changed to theirs): the erasure
        # kept only the address's hash, and this account brings the address back, so it is
        # suppressed as such. Every save path passes here; bulk writes are the demo's only.
        address = self.email.strip().lower()
        if Erasure.objects.filter(email_hash=erasure_hash(address)).exists():
            Suppression.objects.get_or_create(
                email=address, defaults={"reason": SuppressionReason.ERASED, "source": "erasure"}
            )

    def join_role_group(self) -> None:
        """Put the user in their role's group and in no other role's group.

        The groups carry each role's permissions (`accounts.roles`). Like is_staff in save(), it
        follows the role here on the model, so Django's own createsuperuser, which creates users
        through the manager, gets it too.
        """
        with transaction.atomic():
            role_groups = Group.objects.filter(name__in=Role.values)
            self.groups.remove(*role_groups.exclude(name=self.role))
            group, _ = Group.objects.get_or_create(name=self.role)
            self.groups.add(group)


class Property(models.Model):
    """Something users enrol in (a development, a listing, a programme)."""

    name = models.CharField(max_length=200)
    code = models.CharField(max_length=50, unique=True)
    created_at = models.DateTimeField(default=timezone.now)

    class Meta:
        verbose_name_plural = "properties"
        ordering = ["name"]

    def __str__(self) -> str:
        return f"{self.name} ({self.code})"


class Enrollment(models.Model):
    user = models.ForeignKey(User, on_delete=models.CASCADE, related_name="enrollments")
    property = models.ForeignKey(Property, on_delete=models.CASCADE, related_name="enrollments")
    agent = models.ForeignKey(
        User,
        null=True,
        blank=True,
        on_delete=models.SET_NULL,
        related_name="enrollments_made",
        limit_choices_to={"role": Role.AGENT},
    )
    created_at = models.DateTimeField(default=timezone.now)

    class Meta:
        constraints = [
            models.UniqueConstraint(fields=["user", "property"], name="accounts_enrollment_user_property_unique"),
        ]
        indexes = [
            # Segment filters go from a property or an agent to its users: covering indexes
            # let the semi-join read the index only.
            models.Index(fields=["property", "user"], name="acc_enr_property_user_idx"),
            models.Index(fields=["agent", "user"], name="acc_enr_agent_user_idx"),
        ]

    def __str__(self) -> str:
        return f"{self.user_id} in {self.property_id}"


class LeadStatus(models.TextChoices):
    OPEN = "OPEN", "Open"
    CLOSED = "CLOSED", "Closed"
    LOST = "LOST", "Lost"


class Lead(models.Model):
    user = models.ForeignKey(User, on_delete=models.CASCADE, related_name="leads")
    agent = models.ForeignKey(
        User,
        null=True,
        blank=True,
        on_delete=models.SET_NULL,
        related_name="leads_handled",
        limit_choices_to={"role": Role.AGENT},
    )
    status = models.CharField(max_length=16, choices=LeadStatus.choices, default=LeadStatus.OPEN)
    created_at = models.DateTimeField(default=timezone.now)
    closed_at = models.DateTimeField(null=True, blank=True)

    class Meta:
        indexes = [
            models.Index(fields=["agent", "status", "user"], name="acc_lead_agent_status_idx"),
        ]

    def __str__(self) -> str:
        return f"Lead {self.pk} ({self.status})"


class OptOutMethod(models.TextChoices):
    """How a person opted out (or back in); campaigns keep the history of it."""

    LINK = "LINK", "Unsubscribe page"
    ONE_CLICK = "ONE_CLICK", "One-click (mail client)"
    BREVO = "BREVO", "Brevo unsubscribe event"
    ADMIN = "ADMIN", "Staff"


class SuppressionReason(models.TextChoices):
    HARD_BOUNCE = "HARD_BOUNCE", "Hard bounce"
    BLOCKED = "BLOCKED", "Blocked by Brevo"
    COMPLAINT = "COMPLAINT", "Spam complaint"
    UNSUBSCRIBE = "UNSUBSCRIBE", "Unsubscribed"
    MANUAL = "MANUAL", "Added by staff"
    ERASED = "ERASED", "Erased on request"


class Suppression(models.Model):
    """An address that must never be emailed, whoever owns it now (bounced, complained, ...).

    Keyed by email rather than user so it also covers addresses without an account yet and
    survives a user being deleted and re-created. The address is stored lower-cased (a check
    constraint holds it to that), so audiences exclude it with a plain indexed equality.
    """

    email = models.EmailField(max_length=254, unique=True)
    reason = models.CharField(max_length=16, choices=SuppressionReason.choices)
    source = models.CharField(max_length=100, blank=True, help_text="Where it came from: brevo, import, admin, ...")
    note = models.TextField(blank=True)
    created_at = models.DateTimeField(default=timezone.now, db_index=True)

    class Meta:
        ordering = ["-created_at", "-id"]
        constraints = [
            models.CheckConstraint(condition=models.Q(email=Lower("email")), name="accounts_suppression_email_lower"),
        ]

    def __str__(self) -> str:
        return f"{self.email} ({self.get_reason_display()})"


def erasure_hash(email: str) -> str:
    """HMAC-SHA256 of the lower-cased address under ERASURE_HASH_KEY: the same address always
    gives the same hash, and without the key no address can be tried against it."""
    key = (settings.ERASURE_HASH_KEY or settings.SECRET_KEY).encode()
    return hmac.new(key, email.strip().lower().encode(), hashlib.sha256).hexdigest()


class Erasure(models.Model):
    """A person erased on request (GDPR art. 17): who did it, when, and the address's keyed hash,
    which also keeps the address unreachable if it ever signs up again."""

    email_hash = models.CharField(max_length=64, db_index=True, help_text="erasure_hash() of the address.")
    erased_by = models.ForeignKey(
        "User", null=True, blank=True, on_delete=models.SET_NULL, related_name="erasures_done"
    )
    via = models.CharField(max_length=16, help_text="admin or command.")
    erased_at = models.DateTimeField(default=timezone.now)

    class Meta:
        ordering = ["-erased_at", "-id"]

    def __str__(self) -> str:
        return f"Erasure {self.pk} ({self.erased_at:%Y-%m-%d})"
