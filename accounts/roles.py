"""What each role may do, as Django permissions.

Each role has a Django group of the same name holding these permissions, and every user is in
exactly the group of their role (see `accounts.services.user_set_role`). The admin and the API
both ask `user.has_perm(...)`, so one table decides for both faces.
"""

from __future__ import annotations

from accounts.models import Role

# App labels whose every model permission a role receives.
_ALL_OF = {
    Role.ADMIN: ("accounts", "segments", "campaigns"),
    Role.MANAGER: ("segments",),
}
# Further single permissions ("app_label.codename").
_EXTRA = {
    Role.MANAGER: ("accounts.view_user", "accounts.view_property", "accounts.view_enrollment", "accounts.view_lead"),
}

# The permission the API checks for each area; held by the roles that may use it.
MANAGE_SEGMENTS = "segments.change_segment"
MANAGE_CAMPAIGNS = "campaigns.change_campaign"


def role_apps(role: str) -> tuple[str, ...]:
    return _ALL_OF.get(Role(role), ())


def role_extra_permissions(role: str) -> tuple[str, ...]:
    return _EXTRA.get(Role(role), ())
