"""Identifiers: the one gate every table and column name passes before SQL, and its quoting.

Names are validated against a conservative pattern (letters, digits, underscore,
starting with a letter or underscore) so that hostile names such as
``x]; DROP TABLE y--`` are rejected before any SQL text is built; quoting is
applied to every identifier anyway (defence in depth), always, so names keep
their case on every database.
"""

from __future__ import annotations

import hashlib
import re

from datasync.core.errors import UnsafeIdentifier

_PLAIN = re.compile(r"^[A-Za-z_][A-Za-z0-9_]*$")
MAX_IDENTIFIER_LENGTH = 128


def validate_identifier(name: object, what: str = "identifier", max_length: int = MAX_IDENTIFIER_LENGTH) -> str:
    """Return ``name`` if it is a plain identifier, else raise UnsafeIdentifier naming it."""
    if not isinstance(name, str) or not _PLAIN.fullmatch(name):
        raise UnsafeIdentifier(
            f"{what} {name!r} is not a plain identifier (letters, digits and _ only, not starting with a digit)"
        )
    if len(name) > max_length:
        raise UnsafeIdentifier(f"{what} {name!r} is longer than {max_length} characters")
    return name


def is_plain_identifier(name: object) -> bool:
    return isinstance(name, str) and bool(_PLAIN.fullmatch(name)) and len(name) <= MAX_IDENTIFIER_LENGTH


def quote_ansi(name: str) -> str:
    """``"name"`` with any ``"`` doubled (SQLite, PostgreSQL, ODBC sources, Oracle)."""
    return '"' + name.replace('"', '""') + '"'


def quote_brackets(name: str) -> str:
    """``[name]`` with any ``]`` doubled (SQL Server); empty or over-long names are refused, never cut."""
    if not isinstance(name, str) or not name:
        raise UnsafeIdentifier(f"identifier {name!r} is empty")
    if len(name) > MAX_IDENTIFIER_LENGTH:
        raise UnsafeIdentifier(f"identifier {name!r} is longer than {MAX_IDENTIFIER_LENGTH} characters")
    return "[" + name.replace("]", "]]") + "]"


def short_name(name: str, limit: int) -> str:
    """``name`` if it fits ``limit`` characters, else a prefix plus a hash of the whole name (still unique)."""
    if len(name) <= limit:
        return name
    digest = hashlib.blake2b(name.encode(), digest_size=4).hexdigest()
    return f"{name[: limit - 9]}_{digest}"
