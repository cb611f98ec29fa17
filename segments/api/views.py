"""Segment endpoints: validate input, call a service or selector, serialize the answer."""

from __future__ import annotations

from typing import Any

from django.db.models import QuerySet
from drf_spectacular.utils import OpenApiParameter, OpenApiResponse, extend_schema, extend_schema_view
from rest_framework import status, viewsets
from rest_framework.decorators import action
from rest_framework.request import Request
from rest_framework.response import Response
from rest_framework.utils.urls import replace_query_param

from accounts.api.permissions import CanManageSegments
from core.errors import InvalidInputError
from core.openapi import brevo_errors, conflict
from core.pagination import ListPagination
from segments import services
from segments.api.filters import SegmentFilter
from segments.api.serializers import (
    CriteriaSerializer,
    PreviewSerializer,
    SegmentExportSerializer,
    SegmentInputSerializer,
    SegmentSerializer,
    SegmentStatsSerializer,
    SegmentSyncConflictSerializer,
    SegmentSyncInputSerializer,
)
from segments.models import Segment
from segments.selectors import (
    AudienceCounts,
    Criteria,
    PreviewCursor,
    criteria_counts,
    preview_page,
    segment_exports,
    segment_list,
    segment_stats,
)

# A segment mirrored to a Brevo list has the list renamed or deleted with it, while the client waits.
_BREVO = {
    **brevo_errors("change the segment's Brevo list (nothing saved)"),
    409: conflict("`brevo_not_configured`: the segment has a Brevo list but Brevo is not configured."),
}
_PAGE_PARAMETER = OpenApiParameter(
    "page",
    str,
    description="`first` (default), `last`, or the `after:<id>` / `before:<id>` value from `next` / `previous`.",
)


@extend_schema_view(
    list=extend_schema(summary="List segments", responses={200: SegmentSerializer(many=True)}),
    retrieve=extend_schema(summary="One segment, with its creator and last export", responses={200: SegmentSerializer}),
)
class SegmentViewSet(viewsets.ReadOnlyModelViewSet[Segment]):
    permission_classes = (CanManageSegments,)
    serializer_class = SegmentSerializer
    pagination_class = ListPagination
    filterset_class = SegmentFilter
    search_fields = ("name", "description")
    ordering_fields = ("id", "name", "created_at", "updated_at", "matching_count", "reachable_count")
    ordering = ("-created_at", "-id")
    lookup_value_regex = r"\d+"

    def get_queryset(self) -> QuerySet[Segment]:
        # Only the actions that serialize segments need the related rows prefetched.
        return segment_list() if self.action in ("list", "retrieve") else Segment.objects.all()

    def _output(self, segment: Segment, status_code: int = status.HTTP_200_OK) -> Response:
        fresh = segment_list().get(pk=segment.pk)
        return Response(SegmentSerializer(fresh, context=self.get_serializer_context()).data, status=status_code)

    @extend_schema(
        summary="Create a segment",
        request=SegmentInputSerializer,
        responses={201: SegmentSerializer, **brevo_errors("create the segment's Brevo list (nothing saved)")},
    )
    def create(self, request: Request) -> Response:
        serializer = SegmentInputSerializer(data=request.data)
        serializer.is_valid(raise_exception=True)
        segment = services.segment_create(
            by=request.user,  # type: ignore[arg-type]
            name=serializer.validated_data["name"],
            description=serializer.validated_data.get("description", ""),
            criteria=serializer.to_criteria(),
        )
        return self._output(segment, status.HTTP_201_CREATED)

    @extend_schema(
        summary="Replace a segment (criteria not sent are cleared)",
        request=SegmentInputSerializer,
        responses={200: SegmentSerializer, **_BREVO},
    )
    def update(self, request: Request, pk: str | None = None) -> Response:
        return self._update(request, partial=False)

    @extend_schema(
        summary="Change some of a segment's fields (criteria not sent are kept)",
        request=SegmentInputSerializer,
        responses={200: SegmentSerializer, **_BREVO},
    )
    def partial_update(self, request: Request, pk: str | None = None) -> Response:
        return self._update(request, partial=True)

    def _update(self, request: Request, *, partial: bool) -> Response:
        segment = self.get_object()
        serializer = SegmentInputSerializer(data=request.data, partial=partial)
        serializer.is_valid(raise_exception=True)
        criteria = None
        if not partial:
            criteria = serializer.to_criteria()
        elif serializer.has_criteria():
            criteria = serializer.to_criteria(base=Criteria.of(segment))
        segment = services.segment_update(
            segment=segment,
            name=serializer.validated_data.get("name"),
            description=serializer.validated_data.get("description", None if partial else ""),
            criteria=criteria,
        )
        return self._output(segment)

    @extend_schema(
        summary="Delete a segment",
        responses={
            204: None,
            **_BREVO,
            409: conflict(
                "`state_conflict`: a draft, scheduled, sending or paused campaign uses the segment (`campaigns` "
                "lists their ids); `brevo_not_configured`: the segment has a Brevo list but Brevo is not configured."
            ),
        },
    )
    def destroy(self, request: Request, pk: str | None = None) -> Response:
        services.segment_delete(segment=self.get_object())
        return Response(status=status.HTTP_204_NO_CONTENT)

    def _preview(self, request: Request, criteria: Criteria, counts: AudienceCounts, counted_at: Any) -> Response:
        try:
            cursor = PreviewCursor.parse(request.query_params.get("page"))
        except ValueError:
            raise InvalidInputError(
                "Use first, last, or the after:/before: value from a next or previous link.", field="page"
            ) from None
        page = preview_page(criteria, cursor=cursor)
        url = request.build_absolute_uri()
        payload = {
            "matching_count": counts.matching,
            "reachable_count": counts.reachable,
            "counts_refreshed_at": counted_at,
            "count": counts.matching,
            "next": replace_query_param(url, "page", page.next_cursor) if page.next_cursor else None,
            "previous": replace_query_param(url, "page", page.previous_cursor) if page.previous_cursor else None,
            "results": page.users,
        }
        return Response(PreviewSerializer(payload, context={"reachable_ids": page.reachable_ids}).data)

    @extend_schema(
        summary="Preview a saved segment: live counts and a page of matching users",
        description="Pages are keyset pages in user id order, so every page, the last included, costs "
        "the same. Counts are recounted when the first page is opened; later pages reuse those counts.",
        parameters=[_PAGE_PARAMETER],
        responses={200: PreviewSerializer},
    )
    @action(detail=True, methods=["get"])
    def preview(self, request: Request, pk: str | None = None) -> Response:
        segment = self.get_object()
        first_page = request.query_params.get("page") in (None, "", "first")
        if first_page or segment.counts_refreshed_at is None:
            segment = services.segment_counts_refresh(segment=segment)
        counts = AudienceCounts(matching=segment.matching_count or 0, reachable=segment.reachable_count or 0)
        return self._preview(request, Criteria.of(segment), counts, segment.counts_refreshed_at)

    @extend_schema(
        summary="Preview unsaved criteria: live counts and a page of matching users",
        request=CriteriaSerializer,
        parameters=[_PAGE_PARAMETER],
        responses={200: PreviewSerializer},
    )
    @action(detail=False, methods=["post"], url_path="preview")
    def preview_criteria(self, request: Request) -> Response:
        serializer = CriteriaSerializer(data=request.data)
        serializer.is_valid(raise_exception=True)
        criteria = services.criteria_validate(criteria=serializer.to_criteria())
        return self._preview(request, criteria, criteria_counts(criteria), None)

    @extend_schema(
        summary="Segment and export totals, and the last 12 months",
        responses={200: SegmentStatsSerializer},
    )
    @action(detail=False, methods=["get"], pagination_class=None, filter_backends=[])
    def stats(self, request: Request) -> Response:
        return Response(SegmentStatsSerializer(segment_stats()).data)

    @extend_schema(
        summary="A segment's export history, newest first",
        responses={200: SegmentExportSerializer(many=True)},
    )
    @action(detail=True, methods=["get"], filter_backends=[])
    def exports(self, request: Request, pk: str | None = None) -> Response:
        paginator = ListPagination()
        page = paginator.paginate_queryset(segment_exports(self.get_object()), request, view=self)
        return paginator.get_paginated_response(SegmentExportSerializer(page, many=True).data)

    @extend_schema(
        summary="Sync the segment to its Brevo list (in the background)",
        description="Queues a sync and answers 202 with the new export (PENDING); poll `exports` for "
        "RUNNING, then SUCCESS (with counts) or FAILED (with `error_message`). While a sync of the "
        "segment is pending or running, answers 409 with that export: one sync per segment at a time.",
        request=SegmentSyncInputSerializer,
        responses={
            202: SegmentExportSerializer,
            409: OpenApiResponse(
                SegmentSyncConflictSerializer,
                description="`sync_in_progress`: a sync of the segment is pending or running (`export` is it); "
                "`brevo_not_configured`: Brevo is not configured on this server.",
            ),
        },
    )
    @action(detail=True, methods=["post"], filter_backends=[])
    def sync(self, request: Request, pk: str | None = None) -> Response:
        serializer = SegmentSyncInputSerializer(data=request.data)
        serializer.is_valid(raise_exception=True)
        try:
            export = services.segment_sync_start(
                segment=self.get_object(),
                by=request.user,  # type: ignore[arg-type]
                full=serializer.validated_data["full"],
            )
        except services.SegmentSyncInProgressError as error:
            # The client polls the sync already under way: the 409 carries it whole.
            error.extra["export"] = SegmentExportSerializer(error.export).data
            raise
        return Response(SegmentExportSerializer(export).data, status=status.HTTP_202_ACCEPTED)
