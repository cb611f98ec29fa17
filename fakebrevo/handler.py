"""The HTTP side of the fake: read a request, apply its fault, answer in Brevo's shape."""

from __future__ import annotations

import contextlib
import json
import socket
from contextlib import AbstractContextManager
from http.server import BaseHTTPRequestHandler
from typing import Any, Protocol
from urllib.parse import urlsplit

from fakebrevo.faults import Fault
from fakebrevo.protocol import MAX_BODY_BYTES, JsonObject, Request, Response


class FakeState(Protocol):
    """What a request needs of the fake (server.py's FakeBrevo, which imports this module)."""

    @property
    def lock(self) -> AbstractContextManager[Any]: ...

    @property
    def generation(self) -> int: ...

    @property
    def counts_only(self) -> bool: ...

    def begin(self, method: str, path: str) -> tuple[JsonObject, Fault | None]: ...

    def sleep(self, seconds: float) -> None: ...

    def handle(self, method: str, path: str, api_key: str | None, request: Request) -> Response: ...


class Handler(BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"
    # Headers and body go out in two writes; with Nagle on, each answer waits ~40 ms for an ACK.
    disable_nagle_algorithm = True

    def log_message(self, format: str, *args: Any) -> None:
        """Silent: test output stays readable; `requests_log` is the record."""

    def do_GET(self) -> None:
        self.serve("GET")

    def do_POST(self) -> None:
        self.serve("POST")

    def do_PUT(self) -> None:
        self.serve("PUT")

    def do_DELETE(self) -> None:
        self.serve("DELETE")

    def serve(self, method: str) -> None:
        fake: FakeState = self.server.fake  # type: ignore[attr-defined]
        path = urlsplit(self.path).path
        generation = fake.generation
        entry, fault = fake.begin(method, path)
        raw, too_large = self._read_body()
        if fault is not None:
            fake.sleep(fault.delay)
            if fake.generation != generation:
                self._drop()
                return
            with fake.lock:
                entry["fault"] = fault.label
            if fault.drop:
                self._drop()
                return
            if fault.status is not None:
                self._send(entry, fake, fault.response())
                return
        response = self._process(fake, method, path, raw, too_large, entry)
        if fault is not None and fault.drop_after_processing:
            with fake.lock:
                entry["processed_status"] = response.status
            self._drop()
            return
        self._send(entry, fake, response)

    def _read_body(self) -> tuple[bytes, bool]:
        """Read the whole body, even an oversized one, so the client sees an answer rather than
        a reset connection."""
        length = int(self.headers.get("Content-Length") or 0)
        if length <= MAX_BODY_BYTES:
            return self.rfile.read(length), False
        remaining = length
        while remaining > 0:
            chunk = self.rfile.read(min(remaining, 1 << 20))
            if not chunk:
                break
            remaining -= len(chunk)
        return b"", True

    def _process(
        self, fake: FakeState, method: str, path: str, raw: bytes, too_large: bool, entry: JsonObject
    ) -> Response:
        if too_large:
            return Response(
                413,
                {"code": "out_of_range", "message": f"Request body is over {MAX_BODY_BYTES} bytes"},
            )
        body: Any = {}
        if raw:
            content_type = self.headers.get("Content-Type", "")
            if not content_type.startswith("application/json"):
                return Response(400, {"code": "invalid_parameter", "message": "Content-Type must be application/json"})
            try:
                body = json.loads(raw)
            except (UnicodeDecodeError, json.JSONDecodeError):
                return Response(400, {"code": "invalid_parameter", "message": "Input must be a json object"})
            if not isinstance(body, dict):
                return Response(400, {"code": "invalid_parameter", "message": "Input must be a json object"})
        with fake.lock:
            entry["body"] = None if fake.counts_only else body
        request = Request(request_no=entry["request_no"], body=body)
        return fake.handle(method, path, self.headers.get("api-key"), request)

    def _send(self, entry: JsonObject, fake: FakeState, response: Response) -> None:
        with fake.lock:
            entry["status"] = response.status
        payload = b"" if response.body is None else json.dumps(response.body).encode()
        self.send_response(response.status)
        for name, value in response.headers.items():
            self.send_header(name, value)
        if payload:
            self.send_header("Content-Type", "application/json; charset=utf-8")
        self.send_header("Content-Length", str(len(payload)))
        try:
            self.end_headers()
            self.wfile.write(payload)
        except (BrokenPipeError, ConnectionResetError):
            # The client gave up (a timeout, usually): what it would have read stays in the log.
            self.close_connection = True

    def _drop(self) -> None:
        """Close the connection without a byte of answer."""
        self.close_connection = True
        with contextlib.suppress(OSError):
            self.connection.shutdown(socket.SHUT_RDWR)
