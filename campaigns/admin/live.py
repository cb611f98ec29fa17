"""The campaign page's live answers (JSON for its script): the preview as one types, the
reachable count beside the audience picker, and test sends of what the page holds, saved or not.
Preview and test send take an A/B variant's row too (`variant-*` fields): the variant over the
campaign, as its recipients would get it.

Each reads the page's current values and calls the same selectors and services as everything
else; nothing here saves a campaign.
"""

from __future__ import annotations

from django.http import HttpRequest, JsonResponse

from accounts.models import User
from campaigns import selectors, services
from campaigns.admin.forms import DraftContentForm, TestSendForm, VariantForm
from campaigns.content import sender_header, validate_campaign_content
from campaigns.models import Campaign, CampaignVariant
from campaigns.rendering import variant_value
from core.errors import DomainError, InvalidInputError, UpstreamError
from segments.models import Membership, Segment


def _refusal(error: DomainError) -> JsonResponse:
    status = error.status_code if isinstance(error, UpstreamError) else 400
    return JsonResponse({"error": error.message, "field": getattr(error, "field", None)}, status=status)


def _page_campaign(request: HttpRequest) -> Campaign:
    """The campaign as the page holds it; InvalidInputError naming the field when unreadable."""
    form = DraftContentForm(request.POST)
    if not form.is_valid():
        field, problems = next(iter(form.errors.items()))
        raise InvalidInputError(f"{form.fields[field].label}: {problems[0]}", field=field)
    raw_id = request.POST.get("campaign_id", "")
    return form.unsaved(pk=int(raw_id) if raw_id.isdigit() else None)


def _page_variant(request: HttpRequest) -> CampaignVariant | None:
    """The A/B variant row the page previews (`variant-label`, `variant-subject`, ...), unsaved;
    None for the campaign's own content."""
    if "variant-label" not in request.POST:
        return None
    form = VariantForm(request.POST, prefix="variant")
    if not form.is_valid():
        field, problems = next(iter(form.errors.items()))
        raise InvalidInputError(f"Variant, {form.fields[field].label}: {problems[0]}", field=f"variant-{field}")
    return form.save(commit=False)


def _checked(campaign: Campaign, variant: CampaignVariant | None) -> None:
    """The content as it would go out (the variant over the campaign), checked as on save."""
    validate_campaign_content(
        subject=variant_value(campaign, variant, "subject"),
        preheader=variant_value(campaign, variant, "preheader"),
        body_html=variant_value(campaign, variant, "body_html"),
        body_text=variant_value(campaign, variant, "body_text"),
    )


def preview(request: HttpRequest) -> JsonResponse:
    """Subject, HTML and text as the signed-in staff member would get them."""
    assert isinstance(request.user, User)
    try:
        campaign = _page_campaign(request)
        variant = _page_variant(request)
        _checked(campaign, variant)
        rendered = selectors.campaign_preview(campaign=campaign, user=request.user, variant=variant)
    except InvalidInputError as error:
        return _refusal(error)
    return JsonResponse(
        {
            "subject": rendered.subject,
            "html": rendered.html,
            "text": rendered.text,
            "sender": sender_header(
                from_name=variant_value(campaign, variant, "from_name"), from_email=campaign.from_email
            ),
        }
    )


def audience(request: HttpRequest) -> JsonResponse:
    """Who the chosen preset and segment reach now, and why nobody when nobody."""
    preset = request.GET.get("target_segment", "")
    raw_segment = request.GET.get("segment", "")
    if preset not in Membership.values:
        return JsonResponse({"reachable": None, "problem": "", "text": "Choose who gets it to see how many."})
    segment = Segment.objects.filter(pk=int(raw_segment)).first() if raw_segment.isdigit() else None
    if raw_segment and segment is None:
        return JsonResponse({"error": "That segment no longer exists.", "field": "segment"}, status=400)
    campaign = Campaign(target_segment=preset, segment=segment)
    reachable = selectors.campaign_audience(campaign=campaign).count()
    problem = "" if reachable else selectors.campaign_audience_problem(campaign=campaign)
    return JsonResponse({"reachable": reachable, "reachable_text": f"{reachable:,}", "problem": problem})


def test_send(request: HttpRequest) -> JsonResponse:
    """Send what the page holds to a few addresses now, saved or not (subject marked [TEST])."""
    assert isinstance(request.user, User)
    form = TestSendForm(request.POST)
    if not form.is_valid():
        return JsonResponse({"error": "Give at least one address for the test.", "field": "emails"}, status=400)
    try:
        campaign = _page_campaign(request)
        variant = _page_variant(request)
        _checked(campaign, variant)
        sent_to = services.campaign_send_test(
            campaign=campaign, by=request.user, emails=form.addresses(), variant=variant
        )
    except DomainError as error:
        return _refusal(error)
    what = f"Test of variant {variant.label}" if variant is not None and variant.label else "Test"
    return JsonResponse({"message": f"{what} sent to {', '.join(sent_to)}."})
