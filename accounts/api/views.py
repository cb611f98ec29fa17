"""Authentication endpoints: tokens (with throttling and lock-out), logout, and who am I."""

from __future__ import annotations

from typing import Any

from django.conf import settings
from django.contrib.auth.signals import user_logged_in
from drf_spectacular.utils import extend_schema
from rest_framework import generics, status
from rest_framework.exceptions import AuthenticationFailed, Throttled
from rest_framework.request import Request
from rest_framework.response import Response
from rest_framework_simplejwt import views as jwt_views
from rest_framework_simplejwt.exceptions import InvalidToken, TokenError
from rest_framework_simplejwt.tokens import RefreshToken

from accounts.api.permissions import IsBackoffice
from accounts.api.serializers import (
    LogoutSerializer,
    MeSerializer,
    TokenObtainSerializer,
    TokenPairSerializer,
    TokenRefreshSerializer,
)
from accounts.api.throttling import LoginAddressThrottle, LoginIPThrottle
from accounts.models import User
from core.openapi import BAD_CREDENTIALS


class LockedOut(Throttled):
    default_detail = "Too many failed logins for this address or from this network."
    default_code = "locked_out"


class TokenObtainView(jwt_views.TokenObtainPairView):
    serializer_class = TokenObtainSerializer
    throttle_classes = (LoginIPThrottle, LoginAddressThrottle)

    @extend_schema(
        summary="Log in: trade an email and password for an access and a refresh token",
        description="Wrong credentials are a 401 (`no_active_account`); repeated failures for an address "
        "or from a network lock it out for a while: 429 `locked_out` with `Retry-After`.",
        responses={200: TokenPairSerializer, 401: BAD_CREDENTIALS},
    )
    def post(self, request: Request, *args: Any, **kwargs: Any) -> Response:
        serializer = self.get_serializer(data=request.data)
        try:
            serializer.is_valid(raise_exception=True)
        except AuthenticationFailed:
            # django-axes marks the request when this failure reached the limit or the address
            # or IP was locked already; the lock lasts the whole cool-off from this failure.
            if getattr(request, "axes_locked_out", False):
                raise LockedOut(wait=settings.AXES_COOLOFF_TIME.total_seconds()) from None
            raise
        # What the admin login does: records the login and lets django-axes clear the failures.
        user_logged_in.send(sender=User, request=request, user=serializer.user)  # type: ignore[attr-defined]
        return Response(serializer.validated_data)


class TokenRefreshView(jwt_views.TokenRefreshView):
    serializer_class = TokenRefreshSerializer

    @extend_schema(
        summary="Trade a refresh token for a new pair (the old refresh token stops working)",
        responses={200: TokenPairSerializer, 401: BAD_CREDENTIALS},
    )
    def post(self, request: Request, *args: Any, **kwargs: Any) -> Response:
        return super().post(request, *args, **kwargs)


class LogoutView(generics.GenericAPIView[Any]):
    """Holding the refresh token is the proof: logging out works after the access token expired."""

    permission_classes = ()
    authentication_classes = ()
    serializer_class = LogoutSerializer

    def get_authenticate_header(self, request: Request) -> str:
        # A refused token is a 401 with a challenge, as on the token endpoints.
        return 'Bearer realm="api"'

    @extend_schema(summary="Log out: revoke a refresh token", responses={204: None, 401: BAD_CREDENTIALS})
    def post(self, request: Request) -> Response:
        serializer = LogoutSerializer(data=request.data)
        serializer.is_valid(raise_exception=True)
        try:
            RefreshToken(serializer.validated_data["refresh"]).blacklist()
        except TokenError as error:
            raise InvalidToken(error.args[0]) from error
        return Response(status=status.HTTP_204_NO_CONTENT)


class MeView(generics.GenericAPIView[User]):
    permission_classes = (IsBackoffice,)
    serializer_class = MeSerializer

    @extend_schema(summary="Who is calling: id, email, name, role and what they may do")
    def get(self, request: Request) -> Response:
        assert isinstance(request.user, User)
        return Response(MeSerializer(request.user).data)
