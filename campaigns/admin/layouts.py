"""Layouts in the admin: written as HTML or MJML, checked and saved by the layout services (the
API's own), deleted only while no campaign that left draft uses them."""

from __future__ import annotations

from typing import Any

from django import forms
from django.contrib import admin, messages
from django.db.models import Count, QuerySet
from django.http import HttpRequest
from django.utils.html import format_html
from django.utils.safestring import SafeString

from campaigns.layouts import CONTENT_SLOT, compile_mjml, lacks_unsubscribe_link, validate_layout
from campaigns.models import CampaignStatus, Layout
from campaigns.services.layouts import EDITABLE_LAYOUT_FIELDS, layout_create, layout_delete, layout_update
from core.errors import DomainError, InvalidInputError

FOOTER_NOTE = (
    "This layout has no {{ unsubscribe_url }}: every email in it gets the standard footer "
    "(unsubscribe link and postal address) unless the campaign's own text has the link."
)

_FOOTER_HINT = (
    "Put {{ unsubscribe_url }} where the unsubscribe link goes, or leave it out and the standard footer is added."
)


class LayoutAdminForm(forms.ModelForm):
    class Meta:
        model = Layout
        fields = EDITABLE_LAYOUT_FIELDS
        help_texts = {
            "html": f"Exactly one {CONTENT_SLOT} where the campaign's body goes; placeholders as in campaigns. "
            "Leave empty when writing MJML.",
            "mjml": "Optional: write the layout in MJML instead; it is compiled to responsive HTML on save. Put "
            f"{CONTENT_SLOT} inside an <mj-text> (MJML gives what sits directly in a column a font size of 0).",
        }
        widgets = {
            "html": forms.Textarea(attrs={"rows": 18, "spellcheck": "false"}),
            "mjml": forms.Textarea(attrs={"rows": 18, "spellcheck": "false"}),
            "css": forms.Textarea(attrs={"rows": 8, "spellcheck": "false"}),
        }

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self.fields["html"].required = False

    def clean(self) -> dict[str, Any]:
        cleaned = super().clean() or {}
        mjml, html = (cleaned.get("mjml") or "").strip(), (cleaned.get("html") or "").strip()
        # An MJML layout shows its compiled HTML too: when the MJML is what changed, it wins.
        from_mjml = bool(mjml) and ("mjml" in self.changed_data or not html)
        try:
            compiled = compile_mjml(cleaned["mjml"]) if from_mjml else cleaned.get("html") or ""
            validate_layout(html=compiled, css=cleaned.get("css") or "", field="mjml" if from_mjml else "html")
        except InvalidInputError as error:
            self.add_error(error.field if error.field in self.fields else None, error.message)
        cleaned["html" if from_mjml else "mjml"] = ""
        return cleaned


@admin.register(Layout)
class LayoutAdmin(admin.ModelAdmin):
    form = LayoutAdminForm
    list_display = ("name", "is_default", "source", "footer", "campaigns_using", "updated_at")
    search_fields = ("name",)
    readonly_fields = ("footer_note",)
    fieldsets = (
        (None, {"fields": ("name", "is_default")}),
        ("Layout", {"fields": ("footer_note", "html", "mjml", "css")}),
    )

    def get_queryset(self, request: HttpRequest) -> QuerySet[Layout]:
        return super().get_queryset(request).annotate(campaign_count=Count("campaigns"))

    @admin.display(description="Written in")
    def source(self, layout: Layout) -> str:
        return "MJML" if layout.mjml else "HTML"

    @admin.display(description="Standard footer added", boolean=True)
    def footer(self, layout: Layout) -> bool:
        return layout.footer_added

    @admin.display(description="Campaigns", ordering="campaign_count")
    def campaigns_using(self, layout: Layout) -> int:
        return int(getattr(layout, "campaign_count", 0))

    @admin.display(description="Unsubscribe footer")
    def footer_note(self, layout: Layout) -> SafeString:
        if layout.pk is not None and layout.footer_added:
            return format_html('<p class="campaign-warning">{}</p>', FOOTER_NOTE)
        return format_html("{}", _FOOTER_HINT)

    def save_model(self, request: HttpRequest, obj: Layout, form: forms.ModelForm, change: bool) -> None:
        data: dict[str, Any] = {name: form.cleaned_data.get(name) or "" for name in EDITABLE_LAYOUT_FIELDS}
        data["is_default"] = bool(form.cleaned_data.get("is_default"))
        try:
            if change:
                given = {name: data[name] for name in form.changed_data if name in data}
                saved = layout_update(layout=Layout.objects.get(pk=obj.pk), changes=given)
            else:
                saved = layout_create(
                    name=data["name"],
                    html=data["html"],
                    mjml=data["mjml"],
                    css=data["css"],
                    is_default=data["is_default"],
                )
        except DomainError as error:
            messages.error(request, error.message)
            return
        obj.pk = saved.pk
        obj.refresh_from_db()
        if lacks_unsubscribe_link(obj.html):
            messages.warning(request, FOOTER_NOTE)

    def has_delete_permission(self, request: HttpRequest, obj: Layout | None = None) -> bool:
        in_use = obj is not None and obj.campaigns.exclude(status=CampaignStatus.DRAFT).exists()
        return not in_use and super().has_delete_permission(request, obj)

    def delete_model(self, request: HttpRequest, obj: Layout) -> None:
        layout_delete(layout=obj)

    def delete_queryset(self, request: HttpRequest, queryset: QuerySet[Layout]) -> None:
        for layout in queryset:
            try:
                layout_delete(layout=layout)
            except DomainError as error:
                messages.error(request, f"{layout}: {error.message}")
