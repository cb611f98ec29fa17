"""The campaign page's live answers (JSON for its script): the preview as one types, the
reachable count beside the audience picker, and test sends of what the page holds, saved or not.

Each reads the page's current values and calls the same selectors and services as everything
else; nothing here saves a campaign.
"""

from __future__ import annotations

from django.http import HttpRequest, JsonResponse

from accounts.models import User
from campaigns import selectors, services
from campaigns.admin.forms import DraftContentForm, TestSendForm
from campaigns.content import sender_header, validate_campaign_content
from campaigns.models import Campaign
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


def preview(request: HttpRequest) -> JsonResponse:
    """Subject, HTML and text as the signed-in staff member would get them."""
    assert isinstance(request.user, User)
    try:
        campaign = _page_campaign(request)
        validate_campaign_content(
            subject=campaign.subject,
            preheader=campaign.preheader,
            body_html=campaign.body_html,
            body_text=campaign.body_text,
        )
        rendered = selectors.campaign_preview(campaign=campaign, user=request.user)
    except InvalidInputError as error:
        return _refusal(error)
    return JsonResponse(
        {
            "subject": rendered.subject,
            "html": rendered.html,
            "text": rendered.text,
            "sender": sender_header(from_name=campaign.from_name, from_email=campaign.from_email),
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
        validate_campaign_content(
            subject=campaign.subject,
            preheader=campaign.preheader,
            body_html=campaign.body_html,
            body_text=campaign.body_text,
        )
        sent_to = services.campaign_send_test(campaign=campaign, by=request.user, emails=form.addresses())
    except DomainError as error:
        return _refusal(error)
    return JsonResponse({"message": f"Test sent to {', '.join(sent_to)}."})
