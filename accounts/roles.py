"""What each role may do, as Django permissions.

Each role has a Django group of the same name holding these permissions, and every user is in
exactly the group of their role (see `accounts.services.user_set_role`). The admin and the API
both ask `user.has_perm(...)`, so one table decides for both faces.
"""

from __future__ import annotations

from typing import Any

from accounts.models import Role

# App labels whose every model permission a role receives. The operational pages (RQ's
# dashboard, login lock-outs, issued tokens) are ADMIN's alone.
_ALL_OF = {
    Role.ADMIN: ("accounts", "segments", "campaigns", "django_rq", "axes", "token_blacklist"),
    Role.MANAGER: ("segments",),
}
# Further single permissions ("app_label.codename").
_EXTRA = {
    Role.MANAGER: ("accounts.view_user", "accounts.view_property", "accounts.view_enrollment", "accounts.view_lead"),
}

# The permission the API checks for each area; held by the roles that may use it.
MANAGE_SEGMENTS = "segments.change_segment"
MANAGE_CAMPAIGNS = "campaigns.change_campaign"
MANAGE_LAYOUTS = "campaigns.change_layout"
# RQ's dashboard: empties queues, requeues and deletes jobs.
OPERATE_QUEUES = "django_rq.admin"


def user_actions(user: Any) -> dict[str, bool]:
    """What the API lets this user do, by area, so a frontend shapes its UI without guessing.
    Sending goes with managing campaigns (the same permission guards both)."""
    return {
        "segments": user.has_perm(MANAGE_SEGMENTS),
        "campaigns": user.has_perm(MANAGE_CAMPAIGNS),
        "sending": user.has_perm(MANAGE_CAMPAIGNS),
    }


def role_apps(role: str) -> tuple[str, ...]:
    return _ALL_OF.get(Role(role), ())


def role_extra_permissions(role: str) -> tuple[str, ...]:
    return _EXTRA.get(Role(role), ())
