"""Layout writes: create, edit, delete, and the one default layout new drafts start with."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from django.db import IntegrityError, transaction

from campaigns.layouts import compile_mjml, validate_layout
from campaigns.models import Campaign, CampaignStatus, Layout
from core.errors import InvalidInputError, StateConflictError

EDITABLE_LAYOUT_FIELDS = ("name", "html", "mjml", "css", "is_default")


def _sources(values: dict[str, Any], *, given: Mapping[str, Any]) -> None:
    """Exactly one source: MJML (compiled to `html` here) or HTML as written (MJML dropped);
    `given` holds the sources this write sets (neither: the stored ones stay)."""
    mjml_given = bool((given.get("mjml") or "").strip())
    html_given = bool((given.get("html") or "").strip())
    if mjml_given and html_given:
        raise InvalidInputError("Give the layout as HTML or as MJML, not both.", field="html")
    if mjml_given:
        values["html"] = compile_mjml(values["mjml"])
    elif html_given:
        values["mjml"] = ""
    if not (values.get("html") or "").strip():
        raise InvalidInputError("Give the layout's HTML (or its MJML).", field="html")
    validate_layout(html=values["html"], css=values.get("css") or "", field="mjml" if values["mjml"] else "html")


def _check_name(name: str, *, exclude: int | None) -> str:
    name = (name or "").strip()
    if not name:
        raise InvalidInputError("The name is required.", field="name")
    others = Layout.objects.filter(name__iexact=name)
    if exclude is not None:
        others = others.exclude(pk=exclude)
    if others.exists():
        raise InvalidInputError(f"A layout named “{name}” exists already.", field="name")
    return name


def _save(layout: Layout, values: Mapping[str, Any]) -> Layout:
    for name, value in values.items():
        setattr(layout, name, value)
    try:
        with transaction.atomic():
            if layout.is_default:
                # One default at a time: the one chosen now replaces the previous one.
                Layout.objects.select_for_update().filter(is_default=True).exclude(pk=layout.pk).update(
                    is_default=False
                )
            layout.save()
    except IntegrityError as error:
        # Two saves racing for the same name or for the default: the loser is told, not a 500.
        raise InvalidInputError("Another layout took this name or became the default meanwhile; try again.") from error
    return layout


def layout_create(*, name: str, html: str = "", mjml: str = "", css: str = "", is_default: bool = False) -> Layout:
    """A new layout from HTML or MJML (compiled here); 400 naming the field at fault."""
    values: dict[str, Any] = {"name": name, "html": html, "mjml": mjml, "css": css, "is_default": is_default}
    values["name"] = _check_name(name, exclude=None)
    _sources(values, given=values)
    return _save(Layout(), values)


def layout_update(*, layout: Layout, changes: Mapping[str, Any]) -> Layout:
    """Edit a layout. Campaigns that left draft keep the HTML they sent, so only drafts (and
    what is still to be scheduled) see the change."""
    unknown = set(changes) - set(EDITABLE_LAYOUT_FIELDS)
    if unknown:
        raise InvalidInputError(f"Not editable: {', '.join(sorted(unknown))}.")
    values: dict[str, Any] = {name: getattr(layout, name) for name in EDITABLE_LAYOUT_FIELDS} | dict(changes)
    values["name"] = _check_name(values["name"], exclude=layout.pk)
    _sources(values, given=changes)
    return _save(layout, values)


@transaction.atomic
def layout_delete(*, layout: Layout) -> None:
    """Delete a layout unless a campaign that left draft uses it (409); drafts lose it. The
    campaigns are locked first, so none can start sending with it meanwhile."""
    locked = Layout.objects.select_for_update().filter(pk=layout.pk).first()
    if locked is None:
        return
    using = list(Campaign.objects.select_for_update().filter(layout=locked).order_by("pk").values_list("pk", "status"))
    in_use = [pk for pk, status in using if status != CampaignStatus.DRAFT]
    if in_use:
        raise StateConflictError(
            f"Layout “{locked.name}” is used by campaign(s) {', '.join(map(str, in_use))} that left draft; "
            "it stays so their pages show what they sent.",
            extra={"campaigns": in_use},
        )
    Campaign.objects.filter(layout=locked).update(layout=None)
    locked.delete()


def layout_default() -> Layout | None:
    """The layout new drafts start with, if one is marked default."""
    return Layout.objects.filter(is_default=True).first()
