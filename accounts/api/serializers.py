"""Shapes of the authentication endpoints."""

from __future__ import annotations

from typing import Any

from django.contrib.auth import get_user_model
from drf_spectacular.utils import extend_schema_field
from rest_framework import serializers
from rest_framework.exceptions import AuthenticationFailed
from rest_framework_simplejwt.serializers import TokenObtainPairSerializer as _TokenObtainPairSerializer
from rest_framework_simplejwt.serializers import TokenRefreshSerializer as _TokenRefreshSerializer

from accounts.models import Role, User
from accounts.roles import user_actions
from core.serializers import StrictFieldsMixin


class TokenPairSerializer(serializers.Serializer[Any]):
    access = serializers.CharField(help_text="Send as `Authorization: Bearer <access>`.")
    refresh = serializers.CharField(help_text="Trade at `token/refresh/` for a new pair; each works once.")


class TokenObtainSerializer(StrictFieldsMixin, _TokenObtainPairSerializer):
    """simplejwt's login, refusing unknown fields like every other input."""


class TokenRefreshSerializer(StrictFieldsMixin, _TokenRefreshSerializer):
    """simplejwt's refresh, answering 401 (not a server error) when the token's user is gone."""

    def validate(self, attrs: dict[str, Any]) -> dict[str, str]:
        try:
            return super().validate(attrs)
        except get_user_model().DoesNotExist:
            raise AuthenticationFailed(self.error_messages["no_active_account"], "no_active_account") from None


class LogoutSerializer(StrictFieldsMixin, serializers.Serializer[Any]):
    refresh = serializers.CharField(help_text="The refresh token to revoke.")


class ActionsSerializer(serializers.Serializer[Any]):
    segments = serializers.BooleanField(help_text="Create, edit, preview and delete segments; sync them to Brevo.")
    campaigns = serializers.BooleanField(help_text="Create, edit and delete campaigns; read their stats.")
    sending = serializers.BooleanField(help_text="Send, schedule, pause, resume, cancel and test-send campaigns.")


class MeSerializer(serializers.ModelSerializer[User]):
    name = serializers.CharField(source="full_name", read_only=True)
    role = serializers.ChoiceField(choices=Role.choices, source="effective_role", read_only=True)
    actions = serializers.SerializerMethodField()

    class Meta:
        model = User
        fields = ("id", "email", "name", "role", "actions")
        read_only_fields = fields

    @extend_schema_field(ActionsSerializer)
    def get_actions(self, user: User) -> dict[str, bool]:
        return user_actions(user)
