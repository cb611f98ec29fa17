"""Campaign endpoints: validate input, call a service or selector, serialize the answer."""

from __future__ import annotations

from typing import Any

from django.db.models import QuerySet
from drf_spectacular.utils import OpenApiParameter, extend_schema, extend_schema_view
from rest_framework import status, viewsets
from rest_framework.decorators import action
from rest_framework.exceptions import ValidationError
from rest_framework.request import Request
from rest_framework.response import Response
from rest_framework.serializers import BaseSerializer

from accounts.api.permissions import CanManageCampaigns
from accounts.models import User
from campaigns import selectors, services
from campaigns.api.filters import CampaignFilter, RecipientFilter
from campaigns.api.schema import TRANSITION_CONFLICT
from campaigns.api.serializers import (
    CampaignAudienceSerializer,
    CampaignDetailSerializer,
    CampaignDuplicateResultSerializer,
    CampaignDuplicateSerializer,
    CampaignFollowUpSerializer,
    CampaignInputSerializer,
    CampaignPickWinnerSerializer,
    CampaignPreviewQuerySerializer,
    CampaignPreviewSerializer,
    CampaignRecipientSerializer,
    CampaignSendSerializer,
    CampaignSerializer,
    CampaignTestSendResultSerializer,
    CampaignTestSendSerializer,
)
from campaigns.models import Campaign, CampaignRecipient, RecipientStatus
from core.openapi import brevo_errors, conflict
from core.pagination import KeysetPagination, ListPagination

_CONFLICT = TRANSITION_CONFLICT


@extend_schema_view(
    list=extend_schema(summary="List campaigns", responses={200: CampaignSerializer(many=True)}),
    retrieve=extend_schema(summary="One campaign with its ledger counts", responses={200: CampaignDetailSerializer}),
    create=extend_schema(
        summary="Create a draft", request=CampaignInputSerializer, responses={201: CampaignDetailSerializer}
    ),
    update=extend_schema(
        summary="Replace a draft",
        request=CampaignInputSerializer,
        responses={200: CampaignDetailSerializer, 409: _CONFLICT},
    ),
    partial_update=extend_schema(
        summary="Edit a draft",
        request=CampaignInputSerializer,
        responses={200: CampaignDetailSerializer, 409: _CONFLICT},
    ),
    destroy=extend_schema(
        summary="Delete a draft",
        responses={
            204: None,
            409: conflict(
                "`state_conflict`: not a draft (`status` names it), or segments' engagement criteria name "
                "the campaign (`segments` lists their ids)."
            ),
        },
    ),
)
class CampaignViewSet(viewsets.ModelViewSet[Campaign]):
    permission_classes = (CanManageCampaigns,)
    pagination_class = ListPagination
    filterset_class = CampaignFilter
    search_fields = ("name", "subject")
    ordering_fields = ("id", "name", "subject", "status", "created_at", "updated_at", "scheduled_at", "sent_at")
    ordering = ("-created_at", "-id")
    lookup_value_regex = r"\d+"

    def get_queryset(self) -> QuerySet[Campaign]:
        return selectors.campaign_list()

    def filter_queryset(self, queryset: QuerySet[Campaign, Any]) -> QuerySet[Campaign, Any]:
        # Filters, search and ordering are the list's: `?status=` on .../recipients/ is the
        # ledger's status, not a reason to 404 the campaign.
        if self.action != "list":
            return queryset
        return super().filter_queryset(queryset)

    def get_serializer_class(self) -> type[BaseSerializer[Any]]:
        if self.action in ("create", "update", "partial_update"):
            return CampaignInputSerializer
        return CampaignSerializer

    def _detail(
        self,
        campaign: Campaign,
        *,
        status_code: int = status.HTTP_200_OK,
        serializer: type[CampaignDetailSerializer] = CampaignDetailSerializer,
        **extra: Any,
    ) -> Response:
        context = {
            **self.get_serializer_context(),
            "stats": selectors.campaign_stats(campaign),
            "links": selectors.campaign_link_clicks(campaign=campaign),
            "variant_stats": selectors.campaign_variant_stats(campaign),
            **extra,
        }
        return Response(serializer(campaign, context=context).data, status=status_code)

    def retrieve(self, request: Request, *args: Any, **kwargs: Any) -> Response:
        return self._detail(self.get_object())

    def create(self, request: Request, *args: Any, **kwargs: Any) -> Response:
        serializer = CampaignInputSerializer(data=request.data)
        serializer.is_valid(raise_exception=True)
        assert isinstance(request.user, User)
        campaign = services.campaign_create(by=request.user, **serializer.validated_data)
        return self._detail(campaign, status_code=status.HTTP_201_CREATED)

    def update(self, request: Request, *args: Any, **kwargs: Any) -> Response:
        campaign = self.get_object()
        partial = kwargs.get("partial", False)
        serializer = CampaignInputSerializer(campaign, data=request.data, partial=partial)
        serializer.is_valid(raise_exception=True)
        return self._detail(services.campaign_update(campaign=campaign, changes=serializer.validated_data))

    def destroy(self, request: Request, *args: Any, **kwargs: Any) -> Response:
        services.campaign_delete(campaign=self.get_object())
        return Response(status=status.HTTP_204_NO_CONTENT)

    @extend_schema(
        summary="Send now (202, SENDING) or schedule (200, SCHEDULED)",
        request=CampaignSendSerializer,
        responses={
            200: CampaignDetailSerializer,
            202: CampaignDetailSerializer,
            409: _CONFLICT,
        },
    )
    @action(detail=True, methods=["post"])
    def send(self, request: Request, pk: str | None = None) -> Response:
        campaign = self.get_object()
        serializer = CampaignSendSerializer(data=request.data)
        serializer.is_valid(raise_exception=True)
        scheduled_at = serializer.validated_data.get("scheduled_at")
        assert isinstance(request.user, User)
        campaign = services.campaign_send(campaign=campaign, by=request.user, scheduled_at=scheduled_at)
        return self._detail(campaign, status_code=status.HTTP_200_OK if scheduled_at else status.HTTP_202_ACCEPTED)

    @extend_schema(
        summary="Copy into a new draft from any status (content, layout, sender, audience; never schedule, "
        "recipients or results)",
        request=CampaignDuplicateSerializer,
        responses={201: CampaignDuplicateResultSerializer},
    )
    @action(detail=True, methods=["post"])
    def duplicate(self, request: Request, pk: str | None = None) -> Response:
        original = self.get_object()
        serializer = CampaignDuplicateSerializer(data=request.data)
        serializer.is_valid(raise_exception=True)
        assert isinstance(request.user, User)
        result = services.campaign_duplicate(
            campaign=original, by=request.user, subject=serializer.validated_data.get("subject")
        )
        return self._detail(
            result.campaign,
            status_code=status.HTTP_201_CREATED,
            serializer=CampaignDuplicateResultSerializer,
            notices=result.notices,
        )

    @extend_schema(
        summary="Follow up: a saved segment of who did (not) open or click, and a draft aimed at it",
        description="On a SENT, PAUSED or CANCELLED campaign, one transaction creates a saved segment "
        "(the engagement criterion naming this campaign, with its preset and its segment's criteria) and "
        "a DRAFT copying its content and sender, aimed at that segment. Answers 201 with the draft.",
        request=CampaignFollowUpSerializer,
        responses={
            201: CampaignDetailSerializer,
            409: _CONFLICT,
            **brevo_errors("create the follow-up segment's list (nothing saved)"),
        },
    )
    @action(detail=True, methods=["post"], url_path="follow-up")
    def follow_up(self, request: Request, pk: str | None = None) -> Response:
        campaign = self.get_object()
        serializer = CampaignFollowUpSerializer(data=request.data)
        serializer.is_valid(raise_exception=True)
        assert isinstance(request.user, User)
        draft = services.campaign_follow_up(campaign=campaign, by=request.user, **serializer.validated_data)
        return self._detail(draft, status_code=status.HTTP_201_CREATED)

    def _transition(self, service: Any) -> Response:
        return self._detail(service(campaign=self.get_object()))

    @extend_schema(
        summary="Back to draft (SCHEDULED only)",
        request=None,
        responses={200: CampaignDetailSerializer, 409: _CONFLICT},
    )
    @action(detail=True, methods=["post"])
    def unschedule(self, request: Request, pk: str | None = None) -> Response:
        return self._transition(services.campaign_unschedule)

    @extend_schema(
        summary="Pause sending (SENDING only)",
        request=None,
        responses={200: CampaignDetailSerializer, 409: _CONFLICT},
    )
    @action(detail=True, methods=["post"])
    def pause(self, request: Request, pk: str | None = None) -> Response:
        return self._transition(services.campaign_pause)

    @extend_schema(
        summary="Resume sending (PAUSED only)",
        request=None,
        responses={200: CampaignDetailSerializer, 409: _CONFLICT},
    )
    @action(detail=True, methods=["post"])
    def resume(self, request: Request, pk: str | None = None) -> Response:
        return self._transition(services.campaign_resume)

    @extend_schema(
        summary="Cancel (SENDING or PAUSED): pending recipients are not sent",
        request=None,
        responses={200: CampaignDetailSerializer, 409: _CONFLICT},
    )
    @action(detail=True, methods=["post"])
    def cancel(self, request: Request, pk: str | None = None) -> Response:
        return self._transition(services.campaign_cancel)

    @extend_schema(
        summary="Pick the A/B winner now (WAITING_FOR_WINNER only): the remainder is sent this variant",
        request=CampaignPickWinnerSerializer,
        responses={200: CampaignDetailSerializer, 409: _CONFLICT},
    )
    @action(detail=True, methods=["post"], url_path="pick-winner")
    def pick_winner(self, request: Request, pk: str | None = None) -> Response:
        campaign = self.get_object()
        serializer = CampaignPickWinnerSerializer(data=request.data)
        serializer.is_valid(raise_exception=True)
        assert isinstance(request.user, User)
        campaign = services.campaign_pick_winner(
            campaign=campaign, variant=serializer.validated_data["variant"], by=request.user
        )
        return self._detail(campaign)

    @extend_schema(
        summary="Send a test to up to 10 addresses now (subject marked [TEST], not in the ledger)",
        request=CampaignTestSendSerializer,
        responses={200: CampaignTestSendResultSerializer, **brevo_errors("send the test")},
    )
    @action(detail=True, methods=["post"])
    def test(self, request: Request, pk: str | None = None) -> Response:
        campaign = self.get_object()
        serializer = CampaignTestSendSerializer(data=request.data)
        serializer.is_valid(raise_exception=True)
        assert isinstance(request.user, User)
        variant = selectors.campaign_variant(campaign=campaign, label=serializer.validated_data.get("variant"))
        sent_to = services.campaign_send_test(
            campaign=campaign, by=request.user, emails=serializer.validated_data["emails"], variant=variant
        )
        return Response({"sent_to": sent_to})

    @extend_schema(
        summary="Subject, HTML and text as a user would get them",
        parameters=[CampaignPreviewQuerySerializer],
        responses={200: CampaignPreviewSerializer},
    )
    @action(detail=True, methods=["get"])
    def preview(self, request: Request, pk: str | None = None) -> Response:
        campaign = self.get_object()
        query = CampaignPreviewQuerySerializer(data=request.query_params)
        query.is_valid(raise_exception=True)
        variant = selectors.campaign_variant(campaign=campaign, label=query.validated_data.get("variant"))
        rendered = selectors.campaign_preview(campaign=campaign, user=query.validated_data.get("user"), variant=variant)
        return Response({"subject": rendered.subject, "html": rendered.html, "text": rendered.text})

    @extend_schema(summary="How many users the campaign would reach now", responses={200: CampaignAudienceSerializer})
    @action(detail=True, methods=["get"])
    def audience(self, request: Request, pk: str | None = None) -> Response:
        campaign = self.get_object()
        return Response({"reachable": selectors.campaign_audience(campaign=campaign).count()})

    @extend_schema(
        summary="The recipients ledger, in id order (cursor pages)",
        parameters=[OpenApiParameter("status", str, enum=RecipientStatus.values, description="Only this status.")],
        responses={200: CampaignRecipientSerializer(many=True)},
    )
    @action(detail=True, methods=["get"], pagination_class=KeysetPagination, filter_backends=[])
    def recipients(self, request: Request, pk: str | None = None) -> Response:
        campaign = self.get_object()
        filters = RecipientFilter(request.query_params, queryset=selectors.campaign_recipients(campaign=campaign))
        if not filters.is_valid():
            raise ValidationError(filters.errors)
        rows: QuerySet[CampaignRecipient] = filters.qs
        paginator = KeysetPagination()
        # No view: the campaign list's ordering filter must not apply to ledger rows.
        page = paginator.paginate_queryset(rows, request, view=None)
        return paginator.get_paginated_response(CampaignRecipientSerializer(page, many=True).data)
