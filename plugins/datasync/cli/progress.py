"""Progress of long syncs: a live rows and rows/s line on a terminal, silence in logs."""

from __future__ import annotations

import sys
import time
from collections.abc import Iterator
from contextlib import contextmanager

from datasync.engine.sync import ProgressCallback


@contextmanager
def sync_progress(label: str, enabled: bool | None = None) -> Iterator[ProgressCallback | None]:
    """Yield a callback taking the running row count, or None when not on a terminal."""
    if enabled is None:
        enabled = sys.stderr.isatty()
    if not enabled:
        yield None
        return
    from rich.progress import Progress, SpinnerColumn, TextColumn, TimeElapsedColumn

    started = time.monotonic()
    with Progress(
        SpinnerColumn(), TextColumn("{task.description}"), TimeElapsedColumn(), transient=True
    ) as bar:
        task = bar.add_task(label)

        def update(rows: int) -> None:
            rate = rows / max(time.monotonic() - started, 1e-6)
            bar.update(task, description=f"{label}: {rows:,} rows, {rate:,.0f} rows/s")

        yield update
