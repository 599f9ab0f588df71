"""End a finished command without the interpreter's teardown.

A ``datasync`` command has pyarrow, psycopg, pydantic and the drivers loaded;
tearing the interpreter down (every module's objects freed one by one) costs
about 0.3 s on a small machine, a fifth of a short incremental sync. Nothing
of ours needs it: connections are closed and transactions committed before the
command returns. So the command does what a normal exit does that matters and
then leaves at once: it joins the threads a normal exit would wait for, runs
the ``atexit`` handlers (telemetry export, logging), flushes its output and
calls ``os._exit``. Under a debugger, profiler or coverage tool it exits normally.
"""

from __future__ import annotations

import atexit
import os
import sys
import threading


def exit_code(exc: SystemExit) -> int:
    """The status a normal exit would give for ``exc`` (a message means 1, printed as Python does)."""
    code = exc.code
    if code is None:
        return 0
    if isinstance(code, int):
        return code
    print(code, file=sys.stderr)
    return 1


def quick_exit(code: int) -> None:
    """Exit with ``code`` after what a normal exit does for the program, skipping the module teardown.

    Under a debugger, profiler or coverage tool (a trace or profile function is set) the exit
    is a normal one: such tools write their results after the program returns.
    """
    if sys.gettrace() is not None or sys.getprofile() is not None:
        sys.exit(code)
    for thread in threading.enumerate():
        if thread is not threading.current_thread() and not thread.daemon:
            thread.join()
    run_exit_handlers = getattr(atexit, "_run_exitfuncs", None)
    if run_exit_handlers is None:  # another interpreter: exit normally
        sys.exit(code)
    run_exit_handlers()
    for stream in (sys.stdout, sys.stderr):
        try:
            stream.flush()
        except (OSError, ValueError):  # a closed pipe (e.g. `| head`): nothing more to say
            pass
    os._exit(code)
