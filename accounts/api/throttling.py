"""API rate limits. Rates come from `REST_FRAMEWORK["DEFAULT_THROTTLE_RATES"]`, read on every
request (DRF's own classes read them once at import, so a changed setting would be ignored)."""

from __future__ import annotations

from typing import Any

from rest_framework.request import Request
from rest_framework.settings import api_settings
from rest_framework.throttling import SimpleRateThrottle


class _SettingsRateThrottle(SimpleRateThrottle):
    def get_rate(self) -> str | None:
        rate = api_settings.DEFAULT_THROTTLE_RATES[str(self.scope)]
        return None if rate is None else str(rate)


class UserRateThrottle(_SettingsRateThrottle):
    """Requests per authenticated user (`API_USER_RATE`); anonymous callers are left to the next."""

    scope = "user"

    def get_cache_key(self, request: Request, view: Any) -> str | None:
        if not request.user or not request.user.is_authenticated:
            return None
        return self.cache_format % {"scope": self.scope, "ident": request.user.pk}


class AnonymousRateThrottle(_SettingsRateThrottle):
    """Requests per client IP without credentials (`API_ANONYMOUS_RATE`)."""

    scope = "anonymous"

    def get_cache_key(self, request: Request, view: Any) -> str | None:
        if request.user and request.user.is_authenticated:
            return None
        return self.cache_format % {"scope": self.scope, "ident": self.get_ident(request)}


class LoginIPThrottle(_SettingsRateThrottle):
    """Token requests per client IP (`LOGIN_RATE`), right password or not."""

    scope = "login_ip"

    def get_cache_key(self, request: Request, view: Any) -> str | None:
        return self.cache_format % {"scope": self.scope, "ident": self.get_ident(request)}


class LoginAddressThrottle(_SettingsRateThrottle):
    """Token requests naming one email address (`LOGIN_RATE`), from any IP, so spreading a
    guessing run over many addresses of a botnet still meets this limit."""

    scope = "login_address"

    def get_cache_key(self, request: Request, view: Any) -> str | None:
        email = request.data.get("email") if isinstance(request.data, dict) else None
        if not isinstance(email, str) or not email:
            return None
        return self.cache_format % {"scope": self.scope, "ident": email.strip().lower()}
