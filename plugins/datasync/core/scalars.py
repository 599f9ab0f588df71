"""Arrow literals for compute kernels and query parameters, built without importing pandas.

``pa.scalar(1000)``, ``pa.array([...])`` and every ``pc.*`` call given a
Python value (converted with ``pa.scalar``) make pyarrow probe for pandas
objects, and the probe imports pandas: about half a second and 50 MB of RSS in
every sync process and every DAG parse, for nothing. These helpers build the
value from a buffer instead, which never probes. Use them for literals in
kernels: ``pc.divide(values, scalars.int64(1000))``.
"""

from __future__ import annotations

import struct
from datetime import datetime, timedelta, timezone
from functools import lru_cache

import pyarrow as pa

__all__ = ["boolean", "float64", "int64", "null", "single", "string", "timestamp_us"]

_EPOCH = datetime(1970, 1, 1)


def single(value: bool | int | float | str | None) -> pa.Array:
    """A one-element array of ``value`` (bool, int64, float64, string or null)."""
    if value is None:
        return pa.nulls(1)
    if isinstance(value, bool):
        return _array(pa.bool_(), b"\x01" if value else b"\x00")
    if isinstance(value, int):
        return _array(pa.int64(), struct.pack("<q", value))
    if isinstance(value, float):
        return _array(pa.float64(), struct.pack("<d", value))
    if isinstance(value, str):
        data = value.encode("utf-8")
        return _array(pa.string(), struct.pack("<ii", 0, len(data)), data)
    raise TypeError(f"no Arrow literal for a {type(value).__name__}")


def _array(type_: pa.DataType, *buffers: bytes) -> pa.Array:
    return pa.Array.from_buffers(type_, 1, [None, *(pa.py_buffer(b) for b in buffers)])


@lru_cache(maxsize=256)
def int64(value: int) -> pa.Scalar:
    return single(int(value))[0]


@lru_cache(maxsize=64)
def float64(value: float) -> pa.Scalar:
    return single(float(value))[0]


@lru_cache(maxsize=2)
def boolean(value: bool) -> pa.Scalar:
    return single(bool(value))[0]


@lru_cache(maxsize=64)
def string(value: str) -> pa.Scalar:
    return single(str(value))[0]


def null(type_: pa.DataType) -> pa.Scalar:
    return pa.nulls(1, type_)[0]


def timestamp_us(value: datetime) -> pa.Scalar:
    """A timestamp('us') scalar; an aware ``value`` is taken as UTC, as ``pa.scalar`` does."""
    if value.tzinfo is not None:
        value = value.astimezone(timezone.utc).replace(tzinfo=None)
    return _array(pa.timestamp("us"), struct.pack("<q", (value - _EPOCH) // timedelta(microseconds=1)))[0]
