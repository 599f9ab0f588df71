"""The ``datasync`` command line (``main``, the console script; ``app``, the click group)."""

from __future__ import annotations

from typing import Any


def main() -> None:
    """The ``datasync`` command: the collector paused before anything is imported (cli.startup_gc),
    the command run where the frame stack has room (core.roomy_stack)."""
    from datasync.cli import startup_gc

    startup_gc.pause()
    from datasync.core.roomy_stack import call_with_room

    call_with_room(_run)


def _run() -> None:
    from datasync.cli.commands import main as run

    run()


def __getattr__(name: str) -> Any:
    if name == "app":  # imported on use: importing the package must not load click, nor pause the collector
        from datasync.cli.commands import app

        return app
    raise AttributeError(f"module {__name__!r} has no attribute {name!r}")


__all__ = ["app", "main"]
