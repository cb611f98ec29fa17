"""The API against its own schema, as a generated client sees it: Schemathesis reads the live
`/api/schema/` from the WSGI app and drives every operation with generated requests, valid and
invalid, then chains operations through the schema's links (an id one call creates is what the
next one reads, edits, sends or deletes). Every built-in check runs on every response: no server
error, status codes, content types, headers and bodies as documented, invalid data refused, valid
data accepted, authentication not ignored, deleted resources gone.

It runs as an ADMIN (every operation) and as a MANAGER (segments; campaigns and layouts answer
403, which must be documented too), with a fixed seed and a bounded number of examples."""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

import pytest
import schemathesis
from django.core.signals import request_finished, request_started
from django.core.wsgi import get_wsgi_application
from django.db import close_old_connections
from hypothesis import HealthCheck
from hypothesis import settings as hypothesis_settings
from rest_framework_simplejwt.tokens import RefreshToken

from accounts.models import Role
from accounts.tests.factories import PropertyFactory, UserFactory

pytestmark = [pytest.mark.django_db, pytest.mark.postgres]

SEED = 20261201
# Examples per operation and mode: enough to reach every documented answer, few enough that both
# roles run in a few minutes.
MAX_EXAMPLES = 15
STATEFUL_EXAMPLES = 12
STATEFUL_STEPS = 6

# Valid requests can still be refused for what JSON Schema cannot state: an id that names no row
# (or a user of the wrong role), a name another segment has, criteria matching nobody, a time in
# the past. Those are 400s naming the field; every other check keeps its defaults.
POSITIVE_EXPECTED = ["2xx", "3xx", "400", "401", "403", "404", "409", "429", "5xx"]


# The live schema, read from the WSGI app as a client would read it from /api/schema/.
schema = schemathesis.openapi.from_wsgi(
    "/api/schema/?format=json",
    get_wsgi_application(),
    config=schemathesis.Config.from_dict(
        {
            "seed": SEED,
            "generation": {"mode": "all", "max-examples": MAX_EXAMPLES, "database": "none"},
            "checks": {"positive_data_acceptance": {"expected-statuses": POSITIVE_EXPECTED}},
        }
    ),
)


# Hypothesis' checks that do not apply here: each operation's examples share one role's fixture
# (and its database rows) on purpose, and a request through the whole stack takes its time.
HYPOTHESIS = hypothesis_settings(
    deadline=None,
    database=None,
    suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.too_slow, HealthCheck.filter_too_much],
)


@pytest.fixture(autouse=True)
def _one_database_connection() -> Iterator[None]:
    """Requests reach the app through WSGI, not Django's test client, so Django's per-request
    connection handling would close the test's connection (and its transaction) after the
    first one; the test client turns it off the same way."""
    request_started.disconnect(close_old_connections)
    request_finished.disconnect(close_old_connections)
    yield
    request_started.connect(close_old_connections)
    request_finished.connect(close_old_connections)


@schema.auth(refresh_interval=None)
class BearerToken:
    """The role's access token (set by the `role` fixture) on every request, as the schema's
    bearer scheme: Schemathesis then knows it is real, and checks the calls refused without it."""

    token = ""

    def get(self, case: Any, context: Any) -> str:
        return BearerToken.token

    def set(self, case: Any, data: str, context: Any) -> None:
        case.headers = {**(case.headers or {}), "Authorization": f"Bearer {data}"}


@pytest.fixture(params=[Role.ADMIN, Role.MANAGER])
def role(request: pytest.FixtureRequest, settings: Any) -> Iterator[str]:
    """Requests as a user of each role, and data for criteria and previews to find."""
    # The per-user rate would answer 429 (documented, so harmless) and leave operations untried.
    settings.REST_FRAMEWORK = {
        **settings.REST_FRAMEWORK,
        "DEFAULT_THROTTLE_RATES": {**settings.REST_FRAMEWORK["DEFAULT_THROTTLE_RATES"], "user": "100000/minute"},
    }
    user = UserFactory(role=request.param)
    PropertyFactory.create_batch(2)
    UserFactory.create_batch(3, role=Role.CLIENT)
    UserFactory(role=Role.AGENT)
    BearerToken.token = str(RefreshToken.for_user(user).access_token)
    yield request.param
    BearerToken.token = ""


@schema.parametrize()
@HYPOTHESIS
def test_every_operation_answers_as_documented(case: Any, role: str) -> None:
    case.call_and_validate()


def test_chained_operations_answer_as_documented(role: str) -> None:
    schema.as_state_machine().run(
        settings=hypothesis_settings(
            HYPOTHESIS, max_examples=STATEFUL_EXAMPLES, stateful_step_count=STATEFUL_STEPS, derandomize=True
        )
    )
