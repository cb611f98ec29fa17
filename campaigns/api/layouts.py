"""Layout endpoints (`/api/layouts/`, ADMIN only): validate input, call a service, serialize."""

from __future__ import annotations

from typing import Any

from django.db.models import Count, QuerySet
from drf_spectacular.utils import extend_schema, extend_schema_view
from rest_framework import serializers, status, viewsets
from rest_framework.request import Request
from rest_framework.response import Response
from rest_framework.serializers import BaseSerializer

from accounts.api.permissions import CanManageLayouts
from campaigns.models import Layout
from campaigns.services.layouts import EDITABLE_LAYOUT_FIELDS, layout_create, layout_delete, layout_update
from core.openapi import conflict
from core.pagination import ListPagination
from core.serializers import StrictFieldsMixin


class LayoutInputSerializer(StrictFieldsMixin, serializers.ModelSerializer[Layout]):
    """What staff write: HTML with one {{ content }} slot, or MJML compiled to it. The services
    check the slot, placeholders, CSS and the name."""

    class Meta:
        model = Layout
        fields = EDITABLE_LAYOUT_FIELDS
        # The service decides name clashes and replaces the previous default, so the model's
        # unique constraints must not refuse first.
        validators: list[Any] = []
        extra_kwargs = {
            "name": {"validators": []},
            "is_default": {"validators": []},
            "html": {"required": False, "allow_blank": True, "trim_whitespace": False},
            "mjml": {"trim_whitespace": False},
            "css": {"trim_whitespace": False},
        }


class LayoutSerializer(serializers.ModelSerializer[Layout]):
    footer_added = serializers.BooleanField(
        read_only=True,
        help_text="True when the layout has no {{ unsubscribe_url }}: emails in it get the standard footer "
        "(unsubscribe link and postal address) unless the campaign's body has the link.",
    )
    campaigns = serializers.IntegerField(read_only=True, source="campaign_count", help_text="Campaigns using it.")

    class Meta:
        model = Layout
        fields = ("id", *EDITABLE_LAYOUT_FIELDS, "footer_added", "campaigns", "created_at", "updated_at")
        read_only_fields = fields


@extend_schema_view(
    list=extend_schema(summary="List layouts", responses={200: LayoutSerializer(many=True)}),
    retrieve=extend_schema(summary="One layout", responses={200: LayoutSerializer}),
    create=extend_schema(
        summary="Create a layout (HTML or MJML)",
        request=LayoutInputSerializer,
        responses={201: LayoutSerializer},
    ),
    update=extend_schema(
        summary="Replace a layout (sent campaigns keep the HTML they sent)",
        request=LayoutInputSerializer,
        responses={200: LayoutSerializer},
    ),
    partial_update=extend_schema(
        summary="Edit a layout (sent campaigns keep the HTML they sent)",
        request=LayoutInputSerializer,
        responses={200: LayoutSerializer},
    ),
    destroy=extend_schema(
        summary="Delete a layout (drafts using it lose it)",
        responses={
            204: None,
            409: conflict("`state_conflict`: a campaign that left draft uses it (`campaigns` lists their ids)."),
        },
    ),
)
class LayoutViewSet(viewsets.ModelViewSet[Layout]):
    permission_classes = (CanManageLayouts,)
    pagination_class = ListPagination
    filter_backends: list[Any] = []
    lookup_value_regex = r"\d+"

    def get_queryset(self) -> QuerySet[Layout]:
        return Layout.objects.annotate(campaign_count=Count("campaigns")).order_by("name")

    def get_serializer_class(self) -> type[BaseSerializer[Any]]:
        if self.action in ("create", "update", "partial_update"):
            return LayoutInputSerializer
        return LayoutSerializer

    def _answer(self, layout: Layout, status_code: int = status.HTTP_200_OK) -> Response:
        return Response(LayoutSerializer(self.get_queryset().get(pk=layout.pk)).data, status=status_code)

    def create(self, request: Request, *args: Any, **kwargs: Any) -> Response:
        serializer = LayoutInputSerializer(data=request.data)
        serializer.is_valid(raise_exception=True)
        return self._answer(layout_create(**serializer.validated_data), status.HTTP_201_CREATED)

    def update(self, request: Request, *args: Any, **kwargs: Any) -> Response:
        layout = self.get_object()
        serializer = LayoutInputSerializer(layout, data=request.data, partial=kwargs.get("partial", False))
        serializer.is_valid(raise_exception=True)
        return self._answer(layout_update(layout=layout, changes=serializer.validated_data))

    def destroy(self, request: Request, *args: Any, **kwargs: Any) -> Response:
        layout_delete(layout=self.get_object())
        return Response(status=status.HTTP_204_NO_CONTENT)
