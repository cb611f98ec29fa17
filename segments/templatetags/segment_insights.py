"""Template tags that let the segment form's partials fetch their own numbers, so the page that
includes them passes nothing but the segment."""

from __future__ import annotations

from django import template

from core.charts import Chart
from segments.models import Segment
from segments.selectors import segment_size_history

register = template.Library()


@register.simple_tag
def segment_size_chart(segment: Segment) -> Chart:
    """`{% segment_size_chart original as chart %}`: the last 90 days of daily snapshots."""
    return segment_size_history(segment=segment)
