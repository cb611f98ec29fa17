"""Optional template parts: a page can offer a slot that renders only when its partial exists."""

from __future__ import annotations

from django.template import TemplateDoesNotExist
from django.template.loader import get_template


def optional_template(name: str) -> str:
    """`name` when that template can be loaded, else "" (the page then renders nothing there)."""
    try:
        get_template(name)
    except TemplateDoesNotExist:
        return ""
    return name
