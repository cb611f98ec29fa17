"""The one way work reaches the queue: enqueued by dotted path when the transaction commits.

Each app's `queue.py` names its jobs and calls `enqueue_after_commit`; nothing else enqueues.
Waiting for the commit (at once outside a transaction) means a job never looks for a state that
was rolled back; naming the job by path keeps the app's `queue.py` free of imports of its jobs
(which import services, which call `queue.py`). Redis stores only the name anyway.
"""

from __future__ import annotations

import functools
from datetime import datetime, timedelta
from typing import Any

import django_rq
from django.db import transaction
from rq import Queue


@functools.cache
def default_queue() -> Queue:
    """The default queue, one per process (so one Redis connection pool): django_rq builds a new
    client on every call, and opening a connection costs more than a webhook request. It
    enqueues at once: `enqueue_after_commit` has already waited for the commit."""
    return django_rq.get_queue("default", commit_mode="auto")


def enqueue_after_commit(
    path: str, *args: object, at: datetime | None = None, delay: float = 0.0, **job_options: Any
) -> None:
    """Enqueue the job at `path` with `args` once the current transaction commits: at `at`,
    `delay` seconds later, or at once. `job_options` go to RQ (job_id, job_timeout)."""

    def enqueue() -> None:
        if at is not None:
            default_queue().enqueue_at(at, path, *args, **job_options)
        elif delay > 0:
            default_queue().enqueue_in(timedelta(seconds=delay), path, *args, **job_options)
        else:
            default_queue().enqueue(path, *args, **job_options)

    transaction.on_commit(enqueue)
