"""Named fault-injection points for the kill tests: inert unless a test arms one.

A test sets DATASYNC_FAULT_AT=<point> and DATASYNC_FAULT_FILE=<path> in the
environment of a sync process. When the sync reaches that point the first time,
``checkpoint`` writes the marker file and sleeps until the test deletes it (or
DATASYNC_FAULT_SECONDS pass), so the test knows exactly where the process is and
can read the target, kill the process there (SIGKILL, SIGTERM) or let it go on.

Points in datasync.engine.sync: ``fetch`` (a batch fetched, not yet loaded), ``load``
(a batch loaded into staging, or into the emptied target for a mass), ``merge``
(inside the final transaction, data changed, before the ledger update) and
``finish`` (ledger marked successful, transaction not yet committed).
"""

from __future__ import annotations

import os
import time
from pathlib import Path

POINTS = ("fetch", "load", "merge", "finish")
_ENV_POINT = "DATASYNC_FAULT_AT"
_ENV_FILE = "DATASYNC_FAULT_FILE"
_ENV_SECONDS = "DATASYNC_FAULT_SECONDS"


def checkpoint(name: str) -> None:
    """Pause here (marker file, then sleep) if this process was told to stop at ``name``."""
    if os.environ.get(_ENV_POINT) != name:
        return
    marker = os.environ.get(_ENV_FILE)
    os.environ.pop(_ENV_POINT)  # only the first time this point is reached
    if marker:
        Path(marker).write_text(f"{os.getpid()} {name}\n")
    deadline = time.monotonic() + float(os.environ.get(_ENV_SECONDS, "120"))
    while time.monotonic() < deadline and (not marker or Path(marker).exists()):
        time.sleep(0.02)
