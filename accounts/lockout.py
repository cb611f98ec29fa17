"""How django-axes names the account a login attempt is for (settings: AXES_USERNAME_CALLABLE)."""

from __future__ import annotations

from typing import Any


def login_address(request: Any, credentials: dict[str, Any] | None) -> str | None:
    """The email address an attempt names, lower-cased: the admin form sends it as `username`,
    the token endpoint as `email`, and one account must be one lock-out whatever the case."""
    source = credentials if credentials is not None else getattr(request, "data", None) or request.POST
    address = source.get("email") or source.get("username")
    return address.strip().lower() if isinstance(address, str) else None
