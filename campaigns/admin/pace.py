"""The sending pace in the admin: one row, its caps and quiet hours editable at run time, with
what the current hour and day have used of them."""

from __future__ import annotations

from typing import Any

from django import forms
from django.contrib import admin
from django.core.exceptions import PermissionDenied
from django.db.models import Q
from django.http import HttpRequest, HttpResponse, HttpResponseRedirect
from django.urls import reverse
from django.utils.html import format_html
from django.utils.safestring import SafeString

from campaigns.models import SendingBudget, SendingPace, SendingWindow
from campaigns.services.sending.pace import pace_rules, pace_windows
from core import clock


class SendingPaceForm(forms.ModelForm):
    class Meta:
        model = SendingPace
        fields = ("max_per_hour", "max_per_day", "quiet_from", "quiet_until")

    def clean(self) -> dict[str, Any]:
        cleaned = super().clean() or {}
        if (cleaned.get("quiet_from") is None) != (cleaned.get("quiet_until") is None):
            self.add_error("quiet_until", "Give both ends of the quiet hours, or neither.")
        return cleaned


@admin.register(SendingPace)
class SendingPaceAdmin(admin.ModelAdmin):
    form = SendingPaceForm
    fields = ("in_force", "max_per_hour", "max_per_day", "quiet_from", "quiet_until")
    readonly_fields = ("in_force",)

    def changelist_view(self, request: HttpRequest, extra_context: dict[str, Any] | None = None) -> HttpResponse:
        if not self.has_view_or_change_permission(request):
            raise PermissionDenied
        # One row: the list is its page.
        SendingPace.objects.get_or_create(pk=1)
        return HttpResponseRedirect(reverse("admin:campaigns_sendingpace_change", args=[1]))

    def has_add_permission(self, request: HttpRequest) -> bool:
        return False

    def has_delete_permission(self, request: HttpRequest, obj: SendingPace | None = None) -> bool:
        return False

    @admin.display(description="In force now")
    def in_force(self, pace: SendingPace) -> SafeString:
        rules = pace_rules()
        hour_start, day_start = pace_windows(clock.now())
        used = dict(
            SendingBudget.objects.filter(
                Q(window=SendingWindow.HOUR, starts_at=hour_start) | Q(window=SendingWindow.DAY, starts_at=day_start)
            ).values_list("window", "used")
        )
        quiet = "none" if rules.quiet_hours is None else "{:%H:%M}-{:%H:%M}".format(*rules.quiet_hours)
        return format_html(
            "This hour: {} sent of {}. Today: {} of {}. Quiet hours: {}.<br>"
            '<span class="help">Empty fields follow the environment (SENDING_MAX_PER_HOUR, SENDING_MAX_PER_DAY, '
            "SENDING_QUIET_HOURS); 0 means no cap. Times are in the site's time zone.</span>",
            used.get(SendingWindow.HOUR, 0),
            rules.max_per_hour or "no cap",
            used.get(SendingWindow.DAY, 0),
            rules.max_per_day or "no cap",
            quiet,
        )
