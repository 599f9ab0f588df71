"""Python's cyclic garbage collector held off while a command starts.

Starting ``datasync run`` imports some 600 modules (click, pydantic, pyarrow,
psycopg …). Python 3.11's collector runs again and again meanwhile — a young
pass every 700 new objects, full passes over the ever larger heap — although
imports leave next to no cyclic garbage: about a tenth of a short command's
wall time on a small machine. So the command line pauses it when it starts and
resumes it once the command has its modules and config (``resume``), first
freezing what exists then (``gc.freeze``: the loaded modules are never scanned
again). The sync itself runs with the collector on, as anywhere else.
"""

from __future__ import annotations

import gc


def pause() -> None:
    gc.disable()


def resume() -> None:
    """The collector on again, everything allocated so far kept out of its passes; idempotent."""
    if not gc.isenabled():
        gc.freeze()
        gc.enable()
