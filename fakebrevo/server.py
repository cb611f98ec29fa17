"""The fake server itself: its lifecycle, its request log, and the routing of a request to the
contacts or the transactional API (the HTTP side is in fakebrevo/handler.py)."""

from __future__ import annotations

import itertools
import re
import threading
from collections.abc import Callable
from http.server import ThreadingHTTPServer
from typing import Any

from fakebrevo.contacts import ContactsApi
from fakebrevo.faults import Fault, FaultInjection, matches, normalise_prefix
from fakebrevo.handler import Handler
from fakebrevo.protocol import BrevoError, JsonObject, Request, Response
from fakebrevo.transactional import TransactionalApi


class FakeBrevo(ContactsApi, TransactionalApi, FaultInjection):
    """An in-process Brevo API v3 server with inspectable state and fault injection.

    Every read and write of the state happens under `lock`; tests may take it too.
    """

    requests_log: list[JsonObject]

    def __init__(
        self, api_key: str = "test-key", host: str = "127.0.0.1", port: int = 0, *, counts_only: bool = False
    ) -> None:
        self.api_key = api_key
        self.counts_only = counts_only
        self.host = host
        self.port = port
        self.lock = threading.RLock()
        self.generation = 0
        self._server: ThreadingHTTPServer | None = None
        self._thread: threading.Thread | None = None
        self._stopping = threading.Event()
        # Message ids stay unique for the life of the object, across reset(), so ids stored by
        # one test can never collide with the next test's.
        self._message_counter = itertools.count(10_000_000_001)
        self._route_table = [
            (method, re.compile(pattern), handler)
            for method, pattern, handler in self._contacts_routes() + self._transactional_routes()
        ]
        self.reset()

    # -- lifecycle ---------------------------------------------------------------------------

    def start(self) -> FakeBrevo:
        """Serve in a daemon thread; with port 0 the OS picks a free port."""
        server = ThreadingHTTPServer((self.host, self.port), Handler)
        server.daemon_threads = True
        server.fake = self  # type: ignore[attr-defined]
        self.port = server.server_address[1]
        self._server = server
        self._stopping.clear()
        # A short poll interval makes stop() return at once instead of after up to 0.5 s.
        self._thread = threading.Thread(
            target=server.serve_forever, kwargs={"poll_interval": 0.05}, name="fake-brevo", daemon=True
        )
        self._thread.start()
        return self

    def stop(self) -> None:
        # Wakes handlers sleeping on an injected delay so shutdown is immediate.
        self._stopping.set()
        if self._server is not None:
            self._server.shutdown()
            self._server.server_close()
            self._server = None
        if self._thread is not None:
            self._thread.join(timeout=5)
            self._thread = None

    def __enter__(self) -> FakeBrevo:
        return self.start()

    def __exit__(self, *exc_info: object) -> None:
        self.stop()

    @property
    def base_url(self) -> str:
        return f"http://{self.host}:{self.port}/v3/"

    def reset(self) -> None:
        """Forget all state and faults (message ids keep counting, see __init__)."""
        with self.lock:
            # Requests still sleeping on an injected delay belong to the previous test: they
            # must not land in the fresh state (see Handler.serve).
            self.generation += 1
            self.requests_log = []
            self._reset_contacts()
            self._reset_transactional()
            self._reset_faults()

    # -- inspection --------------------------------------------------------------------------

    def calls(self, method: str | None = None, path_prefix: str | None = None) -> list[JsonObject]:
        """Logged requests, optionally filtered; `path_prefix` may omit the "/v3/"."""
        prefix = normalise_prefix(path_prefix)
        with self.lock:
            return [
                entry
                for entry in self.requests_log
                if (method is None or entry["method"] == method.upper()) and matches(entry["path"], prefix)
            ]

    # -- request pipeline (called by the handler) --------------------------------------------

    def begin(self, method: str, path: str) -> tuple[JsonObject, Fault | None]:
        """Log a request as it arrives and pick the fault it gets, if any."""
        with self.lock:
            entry: JsonObject = {
                "request_no": len(self.requests_log) + 1,
                "method": method,
                "path": path,
                "status": None,
                "fault": None,
                "body": None,
            }
            self.requests_log.append(entry)
            return entry, self._take_fault(path)

    def sleep(self, seconds: float) -> None:
        """An injected delay, cut short when the server stops."""
        self._stopping.wait(seconds)

    def handle(self, method: str, path: str, api_key: str | None, request: Request) -> Response:
        """Authenticate, route and run one request; errors become Brevo-shaped answers."""
        try:
            if api_key != self.api_key:
                raise BrevoError(401, "unauthorized", "Key not found")
            handler, path_arguments = self._route(method, path)
            with self.lock:
                return handler(**path_arguments, request=request)
        except BrevoError as error:
            return Response(error.status, {"code": error.code, "message": error.message})

    def _route(self, method: str, path: str) -> tuple[Callable[..., Response], dict[str, Any]]:
        path_known = False
        for route_method, pattern, handler in self._route_table:
            found = pattern.fullmatch(path)
            if found is None:
                continue
            path_known = True
            if route_method == method:
                # Every path argument is a numeric id (list_id, process_id).
                return handler, {name: int(value) for name, value in found.groupdict().items()}
        if path_known:
            raise BrevoError(405, "method_not_allowed", f"{method} is not allowed on {path}")
        raise BrevoError(404, "not_found", f"Invalid route {path}")
