"""The staff admin: branded, and its home page listing models by what staff do.

Django lists models by app (Accounts, Auth, Campaigns, Django_Rq...). Staff think in tasks:
who the audience is, which segments exist, which campaigns go out; the machinery (queues,
webhook events, groups) is for administrators only. The sections are built here, in Python,
so any template that renders `app_list` (the home page, the navigation sidebar) shows them.
"""

from __future__ import annotations

from typing import Any

from django.contrib import admin
from django.http import HttpRequest

from accounts.models import Role

# Section title, the model whose list the title links to, and the models it holds in order,
# as "app_label.ModelName". A registered model named nowhere lands in Operations, so nothing
# registered later silently disappears from the home page.
SECTIONS: tuple[tuple[str, str, tuple[str, ...]], ...] = (
    (
        "Audience",
        "accounts.User",
        (
            "accounts.User",
            "accounts.Suppression",
            "campaigns.SubscriptionChange",
            "accounts.Property",
            "accounts.Enrollment",
            "accounts.Lead",
        ),
    ),
    ("Segments", "segments.Segment", ("segments.Segment",)),
    ("Campaigns", "campaigns.Campaign", ("campaigns.Campaign", "campaigns.Layout", "campaigns.CampaignRecipient")),
)
OPERATIONS = "Operations"


def sees_operations(request: HttpRequest) -> bool:
    """Administrators (the ADMIN role, superusers) see the machinery; other staff do not."""
    user = request.user
    return bool(getattr(user, "is_superuser", False) or getattr(user, "role", "") == Role.ADMIN)


class StaffAdminSite(admin.AdminSite):
    site_header = "Audience mail"
    site_title = "Audience mail"
    index_title = "Home"

    def get_app_list(self, request: HttpRequest, app_label: str | None = None) -> list[dict[str, Any]]:
        # One app's own page (/admin/<app_label>/) keeps Django's list of that app's models.
        if app_label is not None:
            return super().get_app_list(request, app_label)
        models: dict[str, dict[str, Any]] = {}
        app_urls: dict[str, str] = {}
        for app in self._build_app_dict(request).values():
            for model in app["models"]:
                models[f"{app['app_label']}.{model['object_name']}"] = model
            app_urls[app["app_label"]] = app["app_url"]
        sections = []
        for title, main, names in SECTIONS:
            entries = [models.pop(name) for name in names if name in models]
            if entries:
                sections.append(self._section(title, entries, main=main, fallback=entries[0]))
        if models and sees_operations(request):
            entries = sorted(models.values(), key=lambda model: str(model["name"]).lower())
            sections.append(self._section(OPERATIONS, entries, main="", fallback=entries[0]))
        return sections

    @staticmethod
    def _section(title: str, entries: list[dict[str, Any]], *, main: str, fallback: dict[str, Any]) -> dict[str, Any]:
        """An app-like entry, the shape Django's templates read (name, app_label, app_url, models)."""
        linked = next((entry for entry in entries if entry["model"]._meta.label == main), fallback)
        return {
            "name": title,
            "app_label": title.lower(),
            "app_url": linked.get("admin_url") or "",
            "has_module_perms": True,
            "models": entries,
        }
