"""Identifier validation: the one gate every table and column name passes before SQL.

Names are validated against a conservative pattern (letters, digits, underscore,
starting with a letter or underscore) so that hostile names such as
``x]; DROP TABLE y--`` are rejected before any SQL text is built. Quoting is the
dialect's job and is applied to every identifier anyway (defence in depth).
"""

from __future__ import annotations

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
