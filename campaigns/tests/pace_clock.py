"""A clock tests move by hand, for `SENDING_CLOCK`: the time is read from the file named by the
PACE_TEST_CLOCK_FILE environment variable, so the test process and the worker processes it
starts see the same time, and moving it moves every worker to the next hour at once."""

from __future__ import annotations

import os
from datetime import datetime
from pathlib import Path

PATH = "campaigns.tests.pace_clock.now"
FILE_VARIABLE = "PACE_TEST_CLOCK_FILE"


def now() -> datetime:
    return datetime.fromisoformat(Path(os.environ[FILE_VARIABLE]).read_text())


def set_now(moment: datetime) -> None:
    assert moment.tzinfo is not None
    Path(os.environ[FILE_VARIABLE]).write_text(moment.isoformat())
