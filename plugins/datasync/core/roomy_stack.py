"""Run a function where CPython's frame stack has room: no chunk mapped and unmapped per call.

CPython (3.11 on) keeps the frames of Python calls in chunks of 16 KiB. A call that
does not fit in the current chunk maps a new one, and its return unmaps it again.
Code that calls to and fro across such a boundary, as an import of numpy's typing
module does with thousands of small calls, maps and unmaps a chunk on every call:
``datasync run`` made 3,700 such pairs and ~3,000 extra page faults (about 40 ms)
when the boundary happened to fall there, and where it falls moves with every
change of call depth (it moved when the command line went from typer to click).

``call_with_room`` calls the function from a frame that reserves a large value stack
it never uses: the interpreter gives that frame a chunk of its own, twice as large
as it, and every frame called from it goes in the free half (about 1 MiB, tens of
thousands of frames), so no call below it crosses a chunk boundary. Pages of the
reservation that are never written cost no memory.
"""

from __future__ import annotations

from collections.abc import Callable
from types import FunctionType
from typing import Any, TypeVar

T = TypeVar("T")

#: value-stack slots reserved (8 bytes each): the frame's chunk is 2 MiB, 1 MiB of it free
_RESERVED_SLOTS = 128 * 1024


def _call(fn: Callable[..., T], args: tuple[Any, ...], kwargs: dict[str, Any]) -> T:
    return fn(*args, **kwargs)


def _roomy(call: FunctionType) -> FunctionType:
    """``call`` with a code object that reserves ``_RESERVED_SLOTS``; ``call`` itself where that cannot be done."""
    try:
        code = call.__code__.replace(co_stacksize=call.__code__.co_stacksize + _RESERVED_SLOTS)
    except (AttributeError, TypeError, ValueError):  # another interpreter
        return call
    return FunctionType(code, call.__globals__, call.__name__)


_call_roomy = _roomy(_call)


def call_with_room(fn: Callable[..., T], *args: Any, **kwargs: Any) -> T:
    """``fn(*args, **kwargs)``, with every frame it calls in one roomy chunk of the frame stack."""
    return _call_roomy(fn, args, kwargs)
