"""The ``datasync`` command line."""

from datasync.cli.app import app, main

__all__ = ["app", "main"]
