"""The ``datasync`` command line (``main``, the console script; ``app``, the typer application)."""

from __future__ import annotations

from typing import Any


def main() -> None:
    """The ``datasync`` command: the collector paused before anything is imported (cli.startup_gc)."""
    from datasync.cli import startup_gc

    startup_gc.pause()
    from datasync.cli.commands import main as run

    run()


def __getattr__(name: str) -> Any:
    if name == "app":  # imported on use: importing the package must not load typer, nor pause the collector
        from datasync.cli.commands import app

        return app
    raise AttributeError(f"module {__name__!r} has no attribute {name!r}")


__all__ = ["app", "main"]
