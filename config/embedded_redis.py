"""An embedded Redis-compatible server (fakeredis over TCP) for zero-setup runs.

With no REDIS_URL, `make demo` starts it once and the web process, the RQ worker and the cron
scheduler all connect to it, so the asynchronous path is the real one. The test settings start
one per test process in a daemon thread. Production settings refuse to run without REDIS_URL.
"""

from __future__ import annotations

import argparse
import socket
import sys
import threading
import time
from typing import Any

from fakeredis import TcpFakeServer
from fakeredis._clients._tcp_server import TCPFakeRequestHandler
from fakeredis._typing import RaiseErrorTypes


class _RequestHandler(TCPFakeRequestHandler):
    """fakeredis' handler closes the connection after any error reply (even an unknown
    command, such as the INFO that RQ probes once per connection), which breaks the client's
    next command on that connection. Real Redis answers the error and carries on; so do we."""

    def setup(self) -> None:
        super().setup()
        read_response = self.current_client.read_response

        def read_response_keeping_errors(**kwargs: Any) -> Any:
            try:
                return read_response(**kwargs)
            except RaiseErrorTypes as error:
                return error  # written to the client as an error reply, connection kept

        self.current_client.read_response = read_response_keeping_errors  # type: ignore[method-assign]


def _server(port: int) -> TcpFakeServer:
    server = TcpFakeServer(("127.0.0.1", port), server_type="redis")
    server.RequestHandlerClass = _RequestHandler
    server.daemon_threads = True
    return server


def _free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return int(probe.getsockname()[1])


def start_in_thread(port: int | None = None) -> str:
    """Serve in a daemon thread and return the redis:// URL to reach it."""
    server = _server(port or _free_port())
    threading.Thread(target=server.serve_forever, name="embedded-redis", daemon=True).start()
    return f"redis://127.0.0.1:{server.server_address[1]}/0"


def wait_ready(port: int, *, timeout: float = 30.0) -> bool:
    """Whether a server accepts connections on `port` within `timeout` seconds."""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        try:
            socket.create_connection(("127.0.0.1", port), timeout=1).close()
            return True
        except OSError:
            time.sleep(0.1)
    return False


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--port", type=int, default=6399)
    parser.add_argument(
        "--wait-ready", action="store_true", help="only wait until a server listens on --port (for start scripts)"
    )
    args = parser.parse_args()
    if args.wait_ready:
        # Workers started before the server would exit at once on "connection refused".
        sys.exit(0 if wait_ready(args.port) else "embedded Redis did not start")
    server = _server(args.port)
    print(f"embedded Redis listening on redis://127.0.0.1:{args.port}/0", flush=True)
    try:
        server.serve_forever()
    except KeyboardInterrupt:
        pass
    finally:
        server.server_close()


if __name__ == "__main__":
    main()
