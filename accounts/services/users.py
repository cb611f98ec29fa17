"""Writes to the audience: role changes and the groups that carry each role's permissions."""

from __future__ import annotations

from django.contrib.auth.models import Group, Permission
from django.db import transaction
from django.db.models import Q

from accounts.models import Role, User
from accounts.roles import role_apps, role_extra_permissions


def role_groups_sync() -> None:
    """Create one group per role and give it exactly the permissions `accounts.roles` lists."""
    for role in Role:
        group, _ = Group.objects.get_or_create(name=role.value)
        query = Q(content_type__app_label__in=role_apps(role))
        for dotted in role_extra_permissions(role):
            app_label, codename = dotted.split(".", 1)
            query |= Q(content_type__app_label=app_label, codename=codename)
        group.permissions.set(Permission.objects.filter(query))


@transaction.atomic
def user_set_role(*, user: User, role: str | None = None) -> User:
    """Set (or re-apply) a user's role: is_staff and the role group follow it."""
    if role is not None and role != user.role:
        user.role = role
        user.save(update_fields=["role"])
    user.join_role_group()
    return user
