"""A local fake of Brevo's API v3, so tests and benchmarks run the real client code (our contacts
client in brevo/, Anymail's Brevo backend) against real HTTP.

Brevo is never reachable from tests. The fake serves only the calls the project makes (folders,
lists, removing list members, bulk import and its processes, transactional email) and, above all,
refuses what Brevo refuses: a client that passes against it has respected Brevo's documented
limits. Where Brevo's behaviour is undocumented, the fake takes the stricter reading, because a
client that copes with the strict reading also copes with the lenient one.

Faults (429 with Brevo's rate-limit headers, 5xx, slow answers, dropped connections, and a request
that is processed but never answered) can be injected to test retries and idempotency.

    server.py          FakeBrevo: lifecycle, request log, routing
    contacts.py        folders, lists, list removals, imports and their processes
    transactional.py   POST /smtp/email (Anymail's Brevo backend)
    faults.py          fault injection
    protocol.py        Brevo's error answers and what every route shares
    handler.py         the HTTP handler
    __main__.py        ``python -m fakebrevo --port 8025 [--api-key KEY]``
"""

from fakebrevo.server import FakeBrevo

__all__ = ["FakeBrevo"]
