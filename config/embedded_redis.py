"""An embedded Redis-compatible server (fakeredis over TCP) for zero-setup runs.

With no REDIS_URL, `make demo` starts it once and the web process, the RQ worker and the cron
scheduler all connect to it, so the asynchronous path is the real one. The test settings start
one per test process in a daemon thread. Production settings refuse to run without REDIS_URL.
"""

from __future__ import annotations

import argparse
import socket
import threading

from fakeredis import TcpFakeServer


def _free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return int(probe.getsockname()[1])


def start_in_thread(port: int | None = None) -> str:
    """Serve in a daemon thread and return the redis:// URL to reach it."""
    port = port or _free_port()
    server = TcpFakeServer(("127.0.0.1", port), server_type="redis")
    server.daemon_threads = True
    threading.Thread(target=server.serve_forever, name="embedded-redis", daemon=True).start()
    return f"redis://127.0.0.1:{port}/0"


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--port", type=int, default=6399)
    args = parser.parse_args()
    server = TcpFakeServer(("127.0.0.1", args.port), server_type="redis")
    print(f"embedded Redis listening on redis://127.0.0.1:{args.port}/0", flush=True)
    try:
        server.serve_forever()
    except KeyboardInterrupt:
        pass
    finally:
        server.server_close()


if __name__ == "__main__":
    main()
