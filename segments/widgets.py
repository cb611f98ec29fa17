"""Widgets of the segment builder: values picked from those users have, or typed anew."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from django import forms
from django.utils.html import format_html, format_html_join
from django.utils.safestring import SafeString


class PickOrTypeWidget(forms.Textarea):
    """One value per line (a value may hold commas), with a field above that suggests the values
    users have (and how many have each) and adds the chosen one; anything else may be typed,
    and the live count flags a value that matches nobody."""

    def __init__(self, *, options: Callable[[], list[tuple[str, int]]], noun: str, **kwargs: Any) -> None:
        super().__init__(attrs={"rows": 3, "cols": 40, "class": "segment-values"}, **kwargs)
        self.options = options
        self.noun = noun

    def render(self, name: str, value: Any, attrs: dict[str, Any] | None = None, renderer: Any = None) -> SafeString:
        lines = super().render(name, value, attrs, renderer)
        list_id = f"{name}-known-values"
        options = format_html_join(
            "", '<option value="{}">{} users</option>', ((option, f"{count:,}") for option, count in self.options())
        )
        return format_html(
            '<div class="segment-pick" data-target="id_{}">'
            '<input type="text" list="{}" class="segment-pick-input" placeholder="Pick or type a {}" '
            'aria-label="Add a {}"><button type="button" class="segment-pick-add">Add</button>'
            '<datalist id="{}">{}</datalist></div>{}'
            '<p class="segment-unmatched" id="{}-unmatched" hidden></p>',
            name,
            list_id,
            self.noun,
            self.noun,
            list_id,
            options,
            lines,
            name,
        )
