from typing import Any

from django import forms
from django.contrib import admin
from django.contrib.admin import helpers
from django.contrib.auth.admin import UserAdmin as DjangoUserAdmin
from django.contrib.auth.forms import UserChangeForm, UserCreationForm
from django.db.models import QuerySet
from django.http import HttpRequest, HttpResponse
from django.template.response import TemplateResponse

from accounts.models import Enrollment, Lead, OptOutMethod, Property, Suppression, SuppressionReason, User
from accounts.services import person_erase, suppression_add, user_opt_out, user_set_role
from core.errors import DomainError


class EmailUserCreationForm(UserCreationForm):
    class Meta:
        model = User
        fields = ("email", "role")


class EmailUserChangeForm(UserChangeForm):
    class Meta:
        model = User
        fields = "__all__"


class EnrollmentInline(admin.TabularInline):
    model = Enrollment
    fk_name = "user"
    extra = 0
    raw_id_fields = ("property", "agent")


@admin.register(User)
class UserAdmin(DjangoUserAdmin):
    form = EmailUserChangeForm
    add_form = EmailUserCreationForm
    ordering = ("email",)
    list_display = ("email", "first_name", "last_name", "role", "membership_status", "is_verified", "country")
    list_filter = ("role", "membership_status", "is_verified", "gender", "country", "is_superuser")
    search_fields = ("email", "first_name", "last_name")
    readonly_fields = ("is_staff", "last_login", "date_joined", "email_opted_out_at")
    raw_id_fields = ("referred_by_partner",)
    actions = ("opt_out_of_campaign_email", "erase_people")
    show_full_result_count = False
    inlines = (EnrollmentInline,)
    fieldsets = (
        (None, {"fields": ("email", "password")}),
        ("Person", {"fields": ("first_name", "last_name", "phone", "gender", "country", "state")}),
        (
            "Platform",
            {
                "fields": (
                    "role",
                    "membership_status",
                    "is_verified",
                    "referral_source",
                    "referred_by_partner",
                    "partnership_status",
                    "email_opted_out_at",
                )
            },
        ),
        ("Access", {"fields": ("is_active", "is_staff", "is_superuser", "last_login", "date_joined")}),
    )
    add_fieldsets = ((None, {"classes": ("wide",), "fields": ("email", "role", "password1", "password2")}),)
    filter_horizontal = ()

    def get_inlines(self, request: HttpRequest, obj: User | None) -> Any:
        # Enrollments need a saved user to point at; the add form stays short.
        return self.inlines if obj else ()

    def save_related(self, request: HttpRequest, form: Any, formsets: Any, change: bool) -> None:
        super().save_related(request, form, formsets, change)
        # After the form's own m2m save, so the role group is what the role says.
        user_set_role(user=form.instance)

    @admin.action(description="Opt out of campaign email", permissions=["change"])
    def opt_out_of_campaign_email(self, request: HttpRequest, queryset: QuerySet[User]) -> None:
        changed = sum(user_opt_out(user=user, method=OptOutMethod.ADMIN) for user in queryset)
        self.message_user(request, f"{changed} user(s) opted out; {queryset.count() - changed} already were.")

    @admin.action(description="Erase on request (GDPR): remove everywhere, keep unreachable", permissions=["delete"])
    def erase_people(self, request: HttpRequest, queryset: QuerySet[User]) -> HttpResponse | None:
        """Asks first (it cannot be undone), then erases each selected person as erase_person does."""
        if request.POST.get("post") != "yes":
            return TemplateResponse(
                request,
                "admin/accounts/user/erase_confirmation.html",
                {
                    **self.admin_site.each_context(request),
                    "title": "Erase these people?",
                    "people": queryset,
                    "action_checkbox_name": helpers.ACTION_CHECKBOX_NAME,
                    "opts": self.model._meta,
                },
            )
        erased = 0
        for user in queryset:
            try:
                person_erase(email=user.email, by=request.user, via="admin")  # type: ignore[arg-type]
            except DomainError as error:
                self.message_user(request, f"{user.pk}: {error}", level="error")
                continue
            erased += 1
        self.message_user(request, f"{erased} person(s) erased; only a hash of each address is kept.")
        return None


@admin.register(Property)
class PropertyAdmin(admin.ModelAdmin):
    list_display = ("name", "code", "created_at")
    search_fields = ("name", "code")


@admin.register(Enrollment)
class EnrollmentAdmin(admin.ModelAdmin):
    list_display = ("user", "property", "agent", "created_at")
    list_select_related = ("user", "property", "agent")
    raw_id_fields = ("user", "property", "agent")
    show_full_result_count = False


@admin.register(Lead)
class LeadAdmin(admin.ModelAdmin):
    list_display = ("id", "user", "agent", "status", "closed_at")
    list_filter = ("status",)
    list_select_related = ("user", "agent")
    raw_id_fields = ("user", "agent")
    show_full_result_count = False


class SuppressionForm(forms.ModelForm):
    class Meta:
        model = Suppression
        fields = ("email", "reason", "source", "note")

    def clean_email(self) -> str:
        # Stored lower-cased (a constraint insists), so "A@x.com" and "a@x.com" are one entry.
        return str(self.cleaned_data["email"]).strip().lower()


@admin.register(Suppression)
class SuppressionAdmin(admin.ModelAdmin):
    """Addresses never emailed, whoever owns them: Brevo adds bounces and complaints here."""

    form = SuppressionForm
    list_display = ("email", "reason", "source", "created_at")
    list_filter = ("reason", "source")
    search_fields = ("email",)
    date_hierarchy = "created_at"
    show_full_result_count = False

    def get_readonly_fields(self, request: HttpRequest, obj: Suppression | None = None) -> tuple[str, ...]:
        # The address is the entry's identity: to suppress another one, add another entry.
        return ("email", "created_at") if obj else ("created_at",)

    def get_changeform_initial_data(self, request: HttpRequest) -> dict[str, Any]:
        return {"reason": SuppressionReason.MANUAL, "source": "admin"}

    def save_model(self, request: HttpRequest, obj: Suppression, form: Any, change: bool) -> None:
        if change:
            super().save_model(request, obj, form, change)
            return
        suppression_add(
            email=obj.email, reason=SuppressionReason(obj.reason), source=obj.source or "admin", note=obj.note
        )
        obj.pk = Suppression.objects.get(email=obj.email).pk


from accounts import queue_admin  # noqa: E402,F401  registers RQ's dashboard for the ADMIN role
