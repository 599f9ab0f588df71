"""Arrow casts that name the first value they cannot convert, instead of failing the whole batch.

Casting is vectorised; only on failure is the column searched for the first bad
value, so the error says which row and value a source delivered.
"""

from __future__ import annotations

from collections.abc import Callable

import pyarrow as pa

from datasync.core.errors import SourceDataError

_CAST_ERRORS = (pa.ArrowInvalid, pa.ArrowNotImplementedError)


def first_failing(arr: pa.Array, convert: Callable[[pa.Array], object]) -> int | None:
    """Index of the first element of ``arr`` that ``convert`` rejects (error path only)."""
    for i in range(len(arr)):
        try:
            convert(arr.slice(i, 1))
        except _CAST_ERRORS:
            return i
    return None


def cast_or_explain(arr: pa.Array, target: pa.DataType, where: Callable[[int], str]) -> pa.Array:
    """``arr`` cast to ``target``; SourceDataError ``"{where(i)}: {value!r} cannot be read as {target}"``."""
    if arr.type == target:
        return arr
    if pa.types.is_null(arr.type):
        return pa.nulls(len(arr), target)
    try:
        return arr.cast(target)
    except _CAST_ERRORS as exc:
        i = first_failing(arr, lambda one: one.cast(target))
        if i is None:
            raise SourceDataError(f"{where(0)}: cannot be read as {target} ({exc})") from None
        raise SourceDataError(f"{where(i)}: {arr[i].as_py()!r} cannot be read as {target}") from None


def first_invalid_utf8(arr: pa.Array) -> int | None:
    """Index of the first binary/string value that is not valid UTF-8, else None."""
    for i, value in enumerate(arr.view(pa.binary()).to_pylist() if pa.types.is_string(arr.type) else arr.to_pylist()):
        if value is not None:
            try:
                value.decode("utf-8")
            except UnicodeDecodeError:
                return i
    return None


def decode_or_explain(arr: pa.Array, where: Callable[[int], str]) -> pa.Array:
    """binary → string; SourceDataError naming the first value that is not UTF-8."""
    try:
        return arr.cast(pa.string())
    except pa.ArrowInvalid:
        i = first_invalid_utf8(arr)
        if i is None:
            raise
        raise SourceDataError(f"{where(i)}: bytes {arr[i].as_py()!r} are not valid UTF-8 text") from None
