"""The campaign admin's forms: the checklist form, and the small ones behind its buttons."""

from __future__ import annotations

from datetime import datetime
from email.utils import parseaddr
from typing import Any

from django import forms
from django.conf import settings
from django.core.exceptions import ValidationError
from django.utils import timezone

from campaigns.content import validate_campaign_content
from campaigns.models import AB_TEST_SHARE_MIN, AB_WAIT_MINUTES_MAX, VARIANT_LABELS, Campaign, CampaignVariant
from campaigns.services.layouts import layout_default
from campaigns.services.lifecycle import EDITABLE_FIELDS
from campaigns.services.sending import MAX_TEST_RECIPIENTS
from campaigns.services.variants import VARIANT_FIELDS, variants_check
from core.errors import InvalidInputError
from core.timezones import zone_named
from segments.models import Membership

# The content the live preview and the draft test send read from the page, saved or not.
CONTENT_FIELDS = ("subject", "preheader", "body_html", "body_text", "from_name", "from_email", "reply_to", "layout")


def default_sender() -> tuple[str, str]:
    """DEFAULT_FROM_EMAIL as (name, address)."""
    return parseaddr(str(settings.DEFAULT_FROM_EMAIL))


class CampaignAdminForm(forms.ModelForm):
    target_segment = forms.ChoiceField(
        label="Send to",
        # No preset is picked for staff: "everyone" must be a choice, never an accident.
        choices=[("", "Choose who gets it…"), *Membership.choices],
        help_text="The people this campaign is for; a segment below narrows them further.",
    )

    class Meta:
        model = Campaign
        fields = EDITABLE_FIELDS
        labels = {
            "name": "Campaign name",
            "segment": "Only people in the segment",
            "from_name": "From name",
            "from_email": "From address",
            "reply_to": "Replies go to",
            "subject": "Subject line",
            "preheader": "Preview text",
            "body_html": "Email (HTML)",
            "body_text": "Plain-text version",
            "layout": "Layout",
            "archive": "Publish in the archive",
            "ab_test_share": "Test share (% of the audience)",
            "ab_winner_metric": "The winner is the variant with the most",
            "ab_wait_minutes": "Wait before deciding (minutes)",
            "ab_require_significance": "Only a significant difference wins",
        }
        help_texts = {
            "name": "For staff only, e.g. “Autumn programme 2026”. Empty: made from the subject.",
            "segment": "Optional. Search saved segments by name.",
            "from_email": "Empty: the default sender address.",
            "reply_to": "Optional. Empty: replies go to the From address.",
            "subject": "What recipients see in their inbox. Placeholders: {{ first_name }}, {{ last_name }}, "
            '{{ email }}, {{ first_name | default:"friend" }}.',
            "preheader": "Shown after the subject in most inboxes.",
            "body_html": "The preview beside it updates as you type. {{ unsubscribe_url }} links to the unsubscribe "
            "page; a footer with it and the postal address is added when missing.",
            "body_text": "Empty: made from the HTML.",
            "archive": "Once sent, shown on the public archive (/archive/) with the placeholders' defaults, never "
            "anyone's data. Can be changed until it is sent.",
            "layout": "The frame the email is placed in (header, styles, footer). Empty: the HTML above is the "
            "whole email.",
            "ab_test_share": "This share of the audience is split evenly among the variants, at random; the rest "
            "gets the winner. 100: every variant goes to its part of the audience and nobody waits for a winner.",
            "ab_wait_minutes": "Counted from the moment the last test email is accepted; then the winner is decided "
            "and sent to the rest. 240 is four hours, enough for most opens.",
            "ab_require_significance": "The best variant wins only if a two-proportion test against the runner-up "
            "gives p < 0.05; otherwise variant A is sent, and the page says why. Unticked: the best rate wins.",
        }
        widgets = {
            "body_html": forms.Textarea(attrs={"rows": 26, "class": "campaign-editor", "spellcheck": "false"}),
            "body_text": forms.Textarea(attrs={"rows": 6}),
            "name": forms.TextInput(attrs={"size": 60}),
            "subject": forms.TextInput(attrs={"size": 60}),
            "preheader": forms.TextInput(attrs={"size": 60}),
            "ab_winner_metric": forms.RadioSelect,
            "ab_test_share": forms.NumberInput(attrs={"min": AB_TEST_SHARE_MIN, "max": 100, "style": "width: 6em"}),
            "ab_wait_minutes": forms.NumberInput(attrs={"min": 1, "max": AB_WAIT_MINUTES_MAX, "style": "width: 8em"}),
        }

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        name, address = default_sender()
        if "from_email" in self.fields:
            self.fields["from_email"].widget.attrs["placeholder"] = address
        if "from_name" in self.fields:
            self.fields["from_name"].widget.attrs["placeholder"] = name
            if self.instance.pk is None:
                # The sender recipients will see unless staff change it, filled in.
                self.initial.setdefault("from_name", name)
        if "layout" in self.fields and self.instance.pk is None:
            # New drafts start in the default layout, as they do through the API.
            self.initial.setdefault("layout", layout_default())

    def clean(self) -> dict[str, Any]:
        cleaned = super().clean() or {}
        try:
            validate_campaign_content(
                subject=cleaned.get("subject") or "",
                preheader=cleaned.get("preheader") or "",
                body_html=cleaned.get("body_html") or "",
                body_text=cleaned.get("body_text") or "",
            )
        except InvalidInputError as error:
            self.add_error(error.field if error.field in self.fields else None, error.message)
        return cleaned


class VariantForm(forms.ModelForm):
    label = forms.ChoiceField(
        label="Letter", choices=[("", "Next free"), *((label, label) for label in VARIANT_LABELS)], required=False
    )

    class Meta:
        model = CampaignVariant
        fields = ("label", *VARIANT_FIELDS)
        labels = {
            "subject": "Subject line",
            "preheader": "Preview text",
            "from_name": "From name",
            "body_html": "Email (HTML)",
            "body_text": "Plain-text version",
        }
        widgets = {
            "subject": forms.TextInput(attrs={"size": 50, "placeholder": "Empty: the campaign's"}),
            "preheader": forms.TextInput(attrs={"size": 50, "placeholder": "Empty: the campaign's"}),
            "from_name": forms.TextInput(attrs={"size": 30, "placeholder": "Empty: the campaign's"}),
            "body_html": forms.Textarea(
                attrs={
                    "rows": 6,
                    "class": "variant-editor",
                    "spellcheck": "false",
                    "placeholder": "Empty: the campaign's",
                }
            ),
            "body_text": forms.Textarea(
                attrs={"rows": 3, "placeholder": "Empty: the campaign's, or made from the HTML"}
            ),
        }

    def validate_unique(self) -> None:
        """The variants are replaced as a whole by the service, which refuses a letter used twice;
        the stored rows' letters say nothing about the page's."""


class VariantFormSet(forms.BaseInlineFormSet):
    """The draft's A/B variants as the page holds them, checked by the service's own rule against
    the campaign's content on the same page; each error lands on the variant's field at fault.
    `variants` is the checked list the campaign is saved with (nothing here writes). No row filled
    in: no A/B test."""

    variants: list[dict[str, str]] | None = None

    def validate_unique(self) -> None:
        """Letters used twice are the service's to refuse (see `VariantForm.validate_unique`)."""

    def clean(self) -> None:
        super().clean()
        if any(self.errors):
            return
        rows = [form for form in self.forms if not form.cleaned_data.get("DELETE")]
        kept = [form for form in rows if form.cleaned_data]
        if kept:
            # Once any row is filled in, the lettered rows left as offered join it: an empty A is
            # the campaign's own content, the usual control.
            kept = [form for form in rows if form.cleaned_data or form.initial.get("label")]
        values = [form.cleaned_data or {"label": form.initial.get("label", "")} for form in kept]
        taken = {value.get("label") for value in values}
        free = iter(label for label in VARIANT_LABELS if label not in taken)
        entries = []
        for value in values:
            # A row added in the browser comes without a letter: the first one not in use.
            label = value.get("label") or next(free, "")
            entries.append({"label": label, **{name: value.get(name) or "" for name in VARIANT_FIELDS}})
        content = {name: getattr(self.instance, name) for name in VARIANT_FIELDS}
        try:
            self.variants = variants_check(content, entries)
        except InvalidInputError as error:
            self._place(error, kept)

    @staticmethod
    def _place(error: InvalidInputError, forms_kept: list[forms.ModelForm]) -> None:
        """`variants[1].subject` on that row's subject, `variants[1]` on the row, `variants` above them."""
        where, _, name = (error.field or "").partition(".")
        if where.startswith("variants[") and where.endswith("]"):
            form = forms_kept[int(where[len("variants[") : -1])]
            form.add_error(name if name in form.fields else None, error.message)
            return
        raise ValidationError(error.message)


class DraftContentForm(forms.ModelForm):
    """What the page holds right now, for the live preview and test sends before saving."""

    class Meta:
        model = Campaign
        fields = CONTENT_FIELDS

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        for field in self.fields.values():
            field.required = False

    def unsaved(self, *, pk: int | None) -> Campaign:
        """An unsaved campaign holding the page's content (the saved one's id, for its links)."""
        values = {name: self.cleaned_data.get(name) or "" for name in CONTENT_FIELDS if name != "layout"}
        return Campaign(pk=pk, layout=self.cleaned_data.get("layout"), **values)


class ScheduleForm(forms.Form):
    scheduled_at = forms.DateTimeField(input_formats=["%Y-%m-%dT%H:%M", "%Y-%m-%dT%H:%M:%S", "%Y-%m-%d %H:%M"])
    # The browser's zone, sent with the time so the time means what the staff member read.
    time_zone = forms.CharField(required=False)

    def when(self) -> datetime:
        """The time typed, in the staff member's zone."""
        typed: datetime = self.cleaned_data["scheduled_at"]
        zone = zone_named(self.cleaned_data.get("time_zone") or "")
        if zone is None:
            return typed
        return timezone.make_aware(timezone.make_naive(typed), zone)


class TestSendForm(forms.Form):
    emails = forms.CharField(help_text=f"Up to {MAX_TEST_RECIPIENTS} addresses, separated by commas or new lines.")

    def addresses(self) -> list[str]:
        raw: str = self.cleaned_data["emails"]
        return [part.strip() for part in raw.replace("\n", ",").split(",") if part.strip()]
