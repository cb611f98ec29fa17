"""Public pages reached from campaign email: unsubscribe (RFC 8058 one-click too), opt back in,
and the web version of a message.

No login and no CSRF token: the signed token in the URL is the proof of who is asking, and mail
clients' one-click POST carries neither cookies nor a CSRF token. A GET only shows a page,
because link scanners and previewers follow every GET in a message.
"""

from __future__ import annotations

from django.contrib.auth.decorators import login_not_required
from django.core import signing
from django.http import HttpRequest, HttpResponse
from django.shortcuts import redirect, render
from django.views.decorators.cache import never_cache
from django.views.decorators.csrf import csrf_exempt
from django.views.decorators.http import require_GET, require_http_methods

from accounts.models import OptOutMethod, User
from accounts.services import suppression_for, user_opt_in, user_opt_out
from campaigns.models import Campaign
from campaigns.selectors import campaign_subject_for, web_version_for
from campaigns.unsubscribe_links import read_unsubscribe_token
from campaigns.web_version_links import read_web_version_token

# RFC 8058 section 3.1: the mail client POSTs exactly this key and value.
ONE_CLICK_FIELD = "List-Unsubscribe"
ONE_CLICK_VALUE = "One-Click"


def _invalid(request: HttpRequest, *, expired: bool = False, status: int = 400) -> HttpResponse:
    return render(request, "campaigns/unsubscribe_invalid.html", {"expired": expired}, status=status)


def _resolve(request: HttpRequest, token: str) -> tuple[User, Campaign | None] | HttpResponse:
    """The user and campaign a token names, or the error page to answer with."""
    try:
        claim = read_unsubscribe_token(token)
    except signing.SignatureExpired:
        return _invalid(request, expired=True)
    except (signing.BadSignature, KeyError, TypeError, ValueError):
        return _invalid(request)
    user = User.objects.filter(pk=claim.user_id).first()
    if user is None:
        # A genuine link for an account deleted since: nothing left to unsubscribe.
        return _invalid(request, status=404)
    campaign = Campaign.objects.filter(pk=claim.campaign_id).first() if claim.campaign_id else None
    return user, campaign


def _page(request: HttpRequest, template: str, *, token: str, user: User, campaign: Campaign | None) -> HttpResponse:
    context = {
        "token": token,
        "email": user.email,
        "campaign": campaign,
        "campaign_subject": campaign_subject_for(campaign=campaign, user=user) if campaign else "",
        "opted_out": user.email_opted_out_at is not None,
        "suppression": suppression_for(email=user.email),
    }
    return render(request, template, context)


@login_not_required
@csrf_exempt
@never_cache
@require_http_methods(["GET", "HEAD", "POST"])
def unsubscribe(request: HttpRequest, token: str) -> HttpResponse:
    """GET asks for confirmation; POST (the button, or a mail client's one-click) opts out."""
    resolved = _resolve(request, token)
    if isinstance(resolved, HttpResponse):
        return resolved
    user, campaign = resolved
    if request.method != "POST":
        template = "campaigns/unsubscribe_done.html" if user.email_opted_out_at else "campaigns/unsubscribe.html"
        return _page(request, template, token=token, user=user, campaign=campaign)

    one_click = request.POST.get(ONE_CLICK_FIELD) == ONE_CLICK_VALUE
    user_opt_out(
        user=user,
        campaign_id=campaign.pk if campaign else None,
        method=OptOutMethod.ONE_CLICK if one_click else OptOutMethod.LINK,
    )
    if one_click:
        # Nobody reads this answer: the mail client only needs a 2xx.
        return HttpResponse("Unsubscribed.\n", content_type="text/plain; charset=utf-8")
    return _page(request, "campaigns/unsubscribe_done.html", token=token, user=user, campaign=campaign)


@login_not_required
@csrf_exempt
@never_cache
@require_http_methods(["GET", "POST"])
def resubscribe(request: HttpRequest, token: str) -> HttpResponse:
    """POST opts the person back in with the same token; GET goes back to the unsubscribe page."""
    if request.method == "GET":
        return redirect("unsubscribe", token=token)
    resolved = _resolve(request, token)
    if isinstance(resolved, HttpResponse):
        return resolved
    user, campaign = resolved
    user_opt_in(user=user, campaign_id=campaign.pk if campaign else None, method=OptOutMethod.LINK)
    return _page(request, "campaigns/unsubscribe_resubscribed.html", token=token, user=user, campaign=campaign)


# The web version is staff's HTML served on our own origin: no script runs (a sandbox without
# allow-scripts), links may open in a new tab, and the token in the URL never leaves in a Referer.
WEB_VERSION_POLICY = (
    "sandbox allow-popups allow-popups-to-escape-sandbox; "
    "default-src 'none'; img-src * data:; style-src 'unsafe-inline'; font-src *"
)


@login_not_required
@never_cache
@require_GET
def web_version(request: HttpRequest, token: str) -> HttpResponse:
    """The email as this recipient got it (their names, their unsubscribe link). Reading it is
    not an open: nothing is recorded. 400 for a token not signed here, 404 once the person or
    the campaign is gone."""
    try:
        claim = read_web_version_token(token)
    except signing.BadSignature:
        return render(request, "campaigns/web_version_missing.html", {"tampered": True}, status=400)
    rendered = web_version_for(user_id=claim.user_id, campaign_id=claim.campaign_id)
    if rendered is None:
        return render(request, "campaigns/web_version_missing.html", {"tampered": False}, status=404)
    response = HttpResponse(rendered.html, content_type="text/html; charset=utf-8")
    response["Content-Security-Policy"] = WEB_VERSION_POLICY
    response["Referrer-Policy"] = "no-referrer"
    response["X-Robots-Tag"] = "noindex, nofollow"
    return response
