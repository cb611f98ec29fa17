"""The admin's segment form: criteria widgets, checked by the same validation as the API."""

from __future__ import annotations

import unicodedata
from typing import Any, cast

from django import forms
from django.contrib.admin.widgets import FilteredSelectMultiple

from accounts.models import Gender
from core.errors import InvalidInputError
from segments import services
from segments.countries import COUNTRIES
from segments.criteria_providers import provided_fields
from segments.models import Segment
from segments.selectors import Criteria, known_values, values_matching_nobody
from segments.widgets import PickOrTypeWidget


def _plain(text: str) -> str:
    """Lower case without accents, for sorting names as people read them."""
    return "".join(char for char in unicodedata.normalize("NFKD", text) if not unicodedata.combining(char)).casefold()


# Countries by their English name, the name first and the code after it ("Andorra (AD)"), so
# typing in the chooser's filter finds a country the way people call it.
COUNTRY_CHOICES = sorted(
    ((code, f"{name} ({code})") for code, name in COUNTRIES),
    # "Åland Islands" among the A's, not after "Zimbabwe".
    key=lambda choice: _plain(choice[1]),
)


class LinesField(forms.CharField):
    """A list of strings typed one per line (states and traffic sources may contain commas)."""

    widget = forms.Textarea(attrs={"rows": 3, "cols": 40})

    def prepare_value(self, value: Any) -> Any:
        return "\n".join(value) if isinstance(value, list | tuple) else value

    def to_python(self, value: Any) -> list[str]:  # type: ignore[override]
        text = super().to_python(value) or ""
        return [line.strip() for line in text.splitlines() if line.strip()]


class SegmentAdminForm(forms.ModelForm):
    gender = forms.ChoiceField(choices=[("", "Any gender"), *Gender.choices], required=False)
    countries = forms.MultipleChoiceField(
        choices=COUNTRY_CHOICES,
        required=False,
        widget=FilteredSelectMultiple("countries", is_stacked=True),
        help_text="Users living in any of these countries.",
    )
    states = LinesField(
        required=False,
        widget=PickOrTypeWidget(options=lambda: known_values("states"), noun="state"),
        help_text="One per line. Pick from the states users have, or type one.",
    )
    traffic_sources = LinesField(
        required=False,
        widget=PickOrTypeWidget(options=lambda: known_values("traffic_sources"), noun="traffic source"),
        help_text="One per line. Pick from the sources users came from, or type one.",
    )

    class Meta:
        model = Segment
        fields = (
            "name",
            "description",
            "membership",
            "gender",
            "countries",
            "states",
            "traffic_sources",
            "properties",
            "agents",
            "partners",
        )

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        # Contributed criteria are not model fields: their initial values come from the JSON column.
        for name in provided_fields():
            if name in self.fields:
                self.initial.setdefault(name, self.instance.extra_criteria.get(name))

    def criteria(self) -> Criteria:
        """The criteria as entered (call after validation)."""
        data = self.cleaned_data
        extra = {name: data.get(name) for name in provided_fields() if name in self.fields}
        return Criteria(
            gender=data.get("gender") or "",
            properties=tuple(item.pk for item in data.get("properties") or ()),
            countries=tuple(data.get("countries") or ()),
            states=tuple(data.get("states") or ()),
            traffic_sources=tuple(data.get("traffic_sources") or ()),
            agents=tuple(item.pk for item in data.get("agents") or ()),
            partners=tuple(item.pk for item in data.get("partners") or ()),
            membership=data.get("membership") or "",
            extra=extra,
        )

    def clean(self) -> dict[str, Any]:
        cleaned = super().clean() or {}
        if self.errors:
            return cleaned
        # The services' own checks, so the admin refuses exactly what the API refuses.
        try:
            services.segment_name_validate(name=cleaned.get("name", ""), segment_id=self.instance.pk)
            services.criteria_validate(criteria=self.criteria())
        except InvalidInputError as error:
            for field, messages in error.as_payload().items():
                for message in messages:
                    self.add_error(field if field in self.fields else None, message)
        return cleaned

    def values_matching_nobody(self) -> dict[str, list[str]]:
        """Typed states and traffic sources no user has: kept (free entry), but worth a look."""
        data = self.cleaned_data
        found = {name: values_matching_nobody(name, data.get(name) or ()) for name in ("states", "traffic_sources")}
        return {name: values for name, values in found.items() if values}

    def validate_unique(self) -> None:
        # The case-insensitive name rule is checked in clean() with a readable message.
        return None


def segment_admin_form() -> type[SegmentAdminForm]:
    """The admin form with a field for each contributed criterion (segments.criteria_providers),
    declared on a subclass so the admin's fieldsets may name them like model fields."""
    declared: dict[str, Any] = {name: criterion.form_field() for name, criterion in provided_fields().items()}
    form = forms.models.ModelFormMetaclass(
        "SegmentAdminForm", (SegmentAdminForm,), {"__module__": __name__, **declared}
    )
    return cast(type[SegmentAdminForm], form)
