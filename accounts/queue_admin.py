"""RQ's dashboard in the admin, for the ADMIN role only.

django-rq's own registration (off: RQ_SHOW_ADMIN_LINK) lets every staff user in, and the
dashboard can empty queues and requeue or delete campaign jobs. Here each of its pages asks
for `django_rq.admin`, a permission only the ADMIN role's group holds (`accounts.roles`).
"""

from __future__ import annotations

from functools import wraps
from typing import Any

from django.contrib import admin
from django.core.exceptions import PermissionDenied
from django.http import HttpRequest, HttpResponse
from django.urls import URLPattern
from django_rq.admin import QueueAdmin
from django_rq.models import Dashboard

from accounts.roles import OPERATE_QUEUES


def _admin_role_only(view: Any) -> Any:
    @wraps(view)
    def guarded(request: HttpRequest, *args: Any, **kwargs: Any) -> HttpResponse:
        if not request.user.has_perm(OPERATE_QUEUES):
            raise PermissionDenied
        return view(request, *args, **kwargs)

    return guarded


@admin.register(Dashboard)
class QueueDashboardAdmin(QueueAdmin):
    def has_module_permission(self, request: HttpRequest) -> bool:
        return request.user.has_perm(OPERATE_QUEUES)

    def has_view_permission(self, request: HttpRequest, obj: Any = None) -> bool:
        return request.user.has_perm(OPERATE_QUEUES)

    def get_urls(self) -> list[URLPattern]:
        # The dashboard's pages and the changelist (which shows the dashboard); the model has no
        # table, so the add / change / delete / history pages would only fail.
        patterns = [
            pattern
            for pattern in super().get_urls()
            if pattern.name and not pattern.name.endswith(("_add", "_change", "_delete", "_history"))
        ]
        for pattern in patterns:
            # Inside the admin's own login check, so anonymous visitors still go to the login page.
            pattern.callback = self.admin_site.admin_view(_admin_role_only(pattern.callback))
        return patterns
