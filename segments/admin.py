"""The staff UI for segments: every write goes through segments.services, like the API."""

from __future__ import annotations

from typing import Any

from django.contrib import admin, messages
from django.core.exceptions import PermissionDenied
from django.db.models import QuerySet
from django.http import HttpRequest, HttpResponse, HttpResponseNotAllowed, HttpResponseRedirect, JsonResponse
from django.urls import URLPattern, path, reverse
from django.views.decorators.http import require_POST

from core.errors import DomainError, InvalidInputError, StateConflictError, UpstreamError
from segments import services
from segments.criteria_providers import criteria_providers
from segments.dependents import segment_dependents
from segments.forms import SegmentAdminForm, segment_admin_form
from segments.models import EXPORT_REPORT_FIELDS, Segment, SegmentExport
from segments.selectors import (
    Criteria,
    PreviewCursor,
    criteria_counts,
    preview_page,
    unreachable_reasons,
)


class HasBrevoListFilter(admin.SimpleListFilter):
    title = "Brevo list"
    parameter_name = "has_brevo_list"

    def lookups(self, request: HttpRequest, model_admin: Any) -> list[tuple[str, str]]:
        return [("yes", "Mirrored to Brevo"), ("no", "Not mirrored")]

    def queryset(self, request: HttpRequest, queryset: QuerySet[Segment]) -> QuerySet[Segment]:
        if self.value() == "yes":
            return queryset.filter(brevo_list_id__isnull=False)
        if self.value() == "no":
            return queryset.filter(brevo_list_id__isnull=True)
        return queryset


class SegmentExportInline(admin.TabularInline):
    """Export history, newest first. Exports are created by syncing, never by hand."""

    model = SegmentExport
    extra = 0
    can_delete = False
    ordering = ("-created_at", "-id")
    fields = readonly_fields = EXPORT_REPORT_FIELDS

    def get_queryset(self, request: HttpRequest) -> QuerySet[SegmentExport]:
        return super().get_queryset(request).select_related("exported_by")

    def has_add_permission(self, request: HttpRequest, obj: Any = None) -> bool:
        return False

    def has_change_permission(self, request: HttpRequest, obj: Any = None) -> bool:
        return False


@admin.register(Segment)
class SegmentAdmin(admin.ModelAdmin):
    form = SegmentAdminForm
    # Member counts come from the cached columns: counting a million users for each row of a
    # page would take seconds. Services refresh them on every save and when the form opens;
    # the "Refresh member counts" action recounts the selected rows on demand.
    list_display = (
        "name",
        "membership",
        "matching_count",
        "reachable_count",
        "counts_refreshed_at",
        "brevo_list_id",
        "created_by",
        "created_at",
    )
    list_select_related = ("created_by",)
    search_fields = ("name", "description")
    list_filter = ("membership", HasBrevoListFilter, "created_at")
    date_hierarchy = "created_at"
    ordering = ("-created_at", "-id")
    autocomplete_fields = ("properties", "agents", "partners")
    readonly_fields = ("brevo_list_id", "matching_count", "reachable_count", "counts_refreshed_at", "created_by")
    fieldsets = (
        (None, {"fields": ("name", "description")}),
        (
            "Criteria (all must hold; any of the values within one)",
            {
                "fields": (
                    "membership",
                    "gender",
                    "countries",
                    "states",
                    "traffic_sources",
                    "properties",
                    "agents",
                    "partners",
                )
            },
        ),
        (
            "Counts and Brevo",
            {"fields": ("matching_count", "reachable_count", "counts_refreshed_at", "brevo_list_id", "created_by")},
        ),
    )
    inlines = (SegmentExportInline,)
    actions = ("refresh_counts", "sync_to_brevo")

    def get_form(self, request: HttpRequest, obj: Segment | None = None, change: bool = False, **kwargs: Any) -> Any:
        return super().get_form(request, obj, change, **{"form": segment_admin_form(), **kwargs})

    def get_fieldsets(self, request: HttpRequest, obj: Segment | None = None) -> Any:
        # Contributed criteria (segments.criteria_providers) get a fieldset per provider, after
        # the engine's own criteria.
        name, criteria, *rest = super().get_fieldsets(request, obj)
        provided = [
            (provider.title, {"fields": tuple(field.name for field in provider.fields)})
            for provider in criteria_providers()
        ]
        return (name, criteria, *provided, *rest)

    def get_inlines(self, request: HttpRequest, obj: Segment | None) -> Any:
        return self.inlines if obj else ()

    def change_view(
        self, request: HttpRequest, object_id: str, form_url: str = "", extra_context: dict[str, Any] | None = None
    ) -> HttpResponse:
        segment = self.get_object(request, object_id)
        if segment is not None and request.method == "GET":
            criteria = Criteria.of(segment)
            page = preview_page(criteria, cursor=PreviewCursor())
            reasons = unreachable_reasons(user for user in page.users if user.pk not in page.reachable_ids)
            extra_context = {
                **(extra_context or {}),
                "audience": {
                    "counts": criteria_counts(criteria),
                    "page": page,
                    # Each member with why they cannot be emailed, when they cannot.
                    "rows": [(user, user.pk in page.reachable_ids, reasons.get(user.pk, "")) for user in page.users],
                },
            }
        return super().change_view(request, object_id, form_url, extra_context)

    def changeform_view(
        self,
        request: HttpRequest,
        object_id: str | None = None,
        form_url: str = "",
        extra_context: dict[str, Any] | None = None,
    ) -> HttpResponse:
        try:
            return super().changeform_view(request, object_id, form_url, extra_context)
        except (UpstreamError, StateConflictError) as error:
            # Brevo refused, was down or is not configured while renaming the list: nothing was saved.
            self.message_user(request, error.message, messages.ERROR)
            return HttpResponseRedirect(request.get_full_path())

    class Media:
        css = {"all": ("segments/admin/segment_form.css",)}
        js = ("segments/admin/segment_form.js",)

    def get_urls(self) -> list[URLPattern]:
        count = path(
            "live/count/",
            self.admin_site.admin_view(require_POST(self.count_view)),
            name="segments_segment_count",
        )
        sync = path(
            "<path:object_id>/sync/",
            self.admin_site.admin_view(self.sync_view),
            name="segments_segment_sync",
        )
        return [count, sync, *super().get_urls()]

    def count_view(self, request: HttpRequest) -> JsonResponse:
        """The live count while the form is edited: the criteria as they stand, unsaved."""
        if not (self.has_add_permission(request) or self.has_change_permission(request)):
            raise PermissionDenied
        form = segment_admin_form()(request.POST)
        form.is_valid()
        # The name is not the count's business; the criteria get the services' own checks.
        problems = [str(message) for field, errors in form.errors.items() if field != "name" for message in errors]
        if problems and "criteria" not in form.errors:
            return JsonResponse({"error": problems[0], "unmatched": {}})
        try:
            criteria = services.criteria_validate(criteria=form.criteria())
        except InvalidInputError as error:
            return JsonResponse({"error": error.message, "unmatched": form.values_matching_nobody()})
        counts = criteria_counts(criteria)
        return JsonResponse(
            {
                "matching": counts.matching,
                "reachable": counts.reachable,
                "matching_text": f"{counts.matching:,}",
                "reachable_text": f"{counts.reachable:,}",
                "unmatched": form.values_matching_nobody(),
            }
        )

    def sync_view(self, request: HttpRequest, object_id: str) -> HttpResponse:
        """The change form's "Sync to Brevo" button (POST only)."""
        segment = self.get_object(request, object_id)
        if segment is None or not self.has_change_permission(request, segment):
            raise PermissionDenied
        if request.method != "POST":
            return HttpResponseNotAllowed(["POST"])
        self._sync(request, segment)
        return HttpResponseRedirect(reverse("admin:segments_segment_change", args=[segment.pk]))

    def _sync(self, request: HttpRequest, segment: Segment) -> None:
        try:
            export = services.segment_sync_start(segment=segment, by=request.user)  # type: ignore[arg-type]
        except DomainError as error:
            self.message_user(request, f"{segment}: {error.message}", messages.WARNING)
            return
        self.message_user(
            request,
            f"{segment}: Brevo sync queued (export {export.pk}); its status appears in the export history.",
            messages.SUCCESS,
        )

    def save_model(self, request: HttpRequest, obj: Segment, form: SegmentAdminForm, change: bool) -> None:
        for field, values in form.values_matching_nobody().items():
            label = form.fields[field].label or field
            quoted = ", ".join(f"“{value}”" for value in values)
            self.message_user(request, f"{label}: {quoted} matches no user yet; saved as typed.", messages.WARNING)
        data = form.cleaned_data
        if change:
            saved = services.segment_update(
                segment=obj, name=data["name"], description=data.get("description", ""), criteria=form.criteria()
            )
        else:
            saved = services.segment_create(
                by=request.user,  # type: ignore[arg-type]
                name=data["name"],
                description=data.get("description", ""),
                criteria=form.criteria(),
            )
        # The admin keeps using `obj` (log entry, redirect): give it the saved row's state.
        obj.pk = saved.pk
        obj.refresh_from_db()

    def save_related(self, request: HttpRequest, form: Any, formsets: Any, change: bool) -> None:
        # The service already saved the many-to-many criteria, so no form.save_m2m() here; the
        # (read-only) inline formsets still run so the admin's change log can read them.
        for formset in formsets:
            self.save_formset(request, form, formset, change=change)

    def get_deleted_objects(self, objs: Any, request: HttpRequest) -> Any:
        # Finished campaigns are detached, not deleted; only campaigns that still depend on the
        # segment block the deletion (the rule segments.services.segment_delete enforces).
        # Django also asks for delete permission on protected rows; campaigns are never deleted
        # with a segment, so that requirement does not apply.
        deleted, model_count, perms_needed, _ = super().get_deleted_objects(objs, request)
        dependents = segment_dependents()
        detached = {entry.model._meta.verbose_name for entry in dependents}
        perms_needed = {name for name in perms_needed if name not in detached}
        protected = [line for entry in dependents for line in entry.blockers(objs)]
        return deleted, model_count, perms_needed, protected

    def delete_view(
        self, request: HttpRequest, object_id: str, extra_context: dict[str, Any] | None = None
    ) -> HttpResponse:
        try:
            return super().delete_view(request, object_id, extra_context)
        except DomainError as error:
            # A campaign started using the segment after the confirmation page was shown.
            self.message_user(request, error.message, messages.ERROR)
            return HttpResponseRedirect(reverse("admin:segments_segment_change", args=[object_id]))

    def delete_model(self, request: HttpRequest, obj: Segment) -> None:
        services.segment_delete(segment=obj)

    def delete_queryset(self, request: HttpRequest, queryset: QuerySet[Segment]) -> None:
        for segment in queryset:
            try:
                services.segment_delete(segment=segment)
            except DomainError as error:
                self.message_user(request, error.message, messages.ERROR)

    @admin.action(description="Refresh member counts", permissions=["change"])
    def refresh_counts(self, request: HttpRequest, queryset: QuerySet[Segment]) -> None:
        segments = list(queryset)
        for segment in segments:
            services.segment_counts_refresh(segment=segment)
        self.message_user(request, f"Recounted {len(segments)} segment(s).", messages.SUCCESS)

    @admin.action(description="Sync to Brevo", permissions=["change"])
    def sync_to_brevo(self, request: HttpRequest, queryset: QuerySet[Segment]) -> None:
        for segment in queryset:
            self._sync(request, segment)
