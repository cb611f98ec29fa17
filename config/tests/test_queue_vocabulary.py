"""One vocabulary for queue work: each app's `queue.py` is the only place a job's dotted path is
written, every path there names a function of the app's `jobs.py`, and every job is reachable
(enqueued through `queue.py` or registered with the cron)."""

from __future__ import annotations

import ast
import importlib
import inspect
from pathlib import Path
from types import ModuleType

import pytest
from django.utils.module_loading import import_string
from rq import cron

import config.cron  # noqa: F401  (registers the periodic jobs)

ROOT = Path(__file__).resolve().parents[2]
APPS = ("campaigns", "segments")


def _job_paths(queue: ModuleType, app: str) -> list[str]:
    return [value for value in vars(queue).values() if isinstance(value, str) and value.startswith(f"{app}.jobs.")]


@pytest.mark.parametrize("app", APPS)
def test_every_path_in_queue_names_a_function_of_jobs(app: str) -> None:
    queue = importlib.import_module(f"{app}.queue")
    paths = _job_paths(queue, app)

    assert paths
    for path in paths:
        function = import_string(path)
        assert inspect.isfunction(function), path
        assert function.__module__ == f"{app}.jobs", path


@pytest.mark.parametrize("app", APPS)
def test_every_job_is_enqueued_through_queue_or_run_by_the_cron(app: str) -> None:
    jobs = importlib.import_module(f"{app}.jobs")
    queue = importlib.import_module(f"{app}.queue")
    defined = {
        name for name, value in vars(jobs).items() if inspect.isfunction(value) and value.__module__ == jobs.__name__
    }
    enqueued = {path.rsplit(".", 1)[1] for path in _job_paths(queue, app)}
    scheduled = {
        entry["func"].__name__ for entry in cron._job_data_registry if entry["func"].__module__ == jobs.__name__
    }

    assert defined == enqueued | scheduled


def _job_paths_in_code(path: Path) -> list[str]:
    """String literals naming a job, docstrings left out (they may point a reader at a job)."""
    tree = ast.parse(path.read_text())
    docstrings = {id(node.value) for node in ast.walk(tree) if isinstance(node, ast.Expr)}
    return [
        node.value
        for node in ast.walk(tree)
        if isinstance(node, ast.Constant)
        and isinstance(node.value, str)
        and id(node) not in docstrings
        and any(f"{app}.jobs." in node.value for app in APPS)
    ]


def test_no_job_path_is_written_outside_queue_modules() -> None:
    sources = [
        path
        for folder in ("config", "core", "brevo", "accounts", *APPS, "demo")
        for path in (ROOT / folder).rglob("*.py")
        if "tests" not in path.relative_to(ROOT).parts and "migrations" not in path.relative_to(ROOT).parts
    ]
    offenders = {
        str(path.relative_to(ROOT)): found
        for path in sources
        if path.name != "queue.py" and (found := _job_paths_in_code(path))
    }

    assert sources
    assert offenders == {}
