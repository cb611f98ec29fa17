"""Serve the fake Brevo until Ctrl-C: ``python -m fakebrevo --port 8025 [--api-key KEY]``.

Prints its base URL on the first line of output, so a parent process (bench/) can read it.
"""

from __future__ import annotations

import argparse
import time

from fakebrevo.server import FakeBrevo


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(prog="python -m fakebrevo", description="Serve a fake Brevo API v3 until Ctrl-C.")
    parser.add_argument("--host", default="127.0.0.1")
    parser.add_argument("--port", type=int, default=0)
    parser.add_argument("--api-key", default="test-key")
    parser.add_argument("--counts-only", action="store_true", help="Count accepted addresses, keep no messages.")
    options = parser.parse_args(argv)
    fake = FakeBrevo(
        api_key=options.api_key, host=options.host, port=options.port, counts_only=options.counts_only
    ).start()
    print(fake.base_url, flush=True)
    try:
        while True:
            time.sleep(3600)
    except KeyboardInterrupt:
        pass
    finally:
        fake.stop()


if __name__ == "__main__":
    main()
