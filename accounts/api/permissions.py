"""API access follows the same Django permissions the role groups grant in the admin."""

from __future__ import annotations

from typing import Any

from rest_framework.permissions import BasePermission
from rest_framework.request import Request

from accounts.models import BACKOFFICE_ROLES
from accounts.roles import MANAGE_CAMPAIGNS, MANAGE_LAYOUTS, MANAGE_SEGMENTS


def may_use_api(user: Any) -> bool:
    """Active back-office users (ADMIN, MANAGER) only: the token endpoint refuses the rest as
    it refuses a wrong password, and every endpoint refuses their older tokens."""
    return bool(
        user is not None
        and user.is_authenticated
        and user.is_active
        and (user.is_superuser or user.role in BACKOFFICE_ROLES)
    )


class IsBackoffice(BasePermission):
    message = "Only ADMIN and MANAGER users may use the API."

    def has_permission(self, request: Request, view: Any) -> bool:
        return may_use_api(request.user)


class _HasPermission(BasePermission):
    permission: str
    message = "Your role does not allow this."

    def has_permission(self, request: Request, view: Any) -> bool:
        user = request.user
        # Anonymous requests fail here too; DRF then answers 401 because an authenticator
        # offers a WWW-Authenticate challenge (JWT bearer).
        return bool(user and user.is_authenticated and user.is_active and user.has_perm(self.permission))


class CanManageSegments(_HasPermission):
    permission = MANAGE_SEGMENTS


class CanManageCampaigns(_HasPermission):
    permission = MANAGE_CAMPAIGNS


class CanManageLayouts(_HasPermission):
    permission = MANAGE_LAYOUTS
