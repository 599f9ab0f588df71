"""Moments in one convention: aware UTC inside datasync, naive local time at a JDE source.

JDE stores local server time without a zone; the ledger and the schedule work in
UTC. Every conversion between the two goes through these functions.
"""

from __future__ import annotations

from datetime import datetime, timezone
from zoneinfo import ZoneInfo


def utcnow() -> datetime:
    return datetime.now(timezone.utc)


def as_utc(moment: datetime) -> datetime:
    """An aware UTC datetime (a naive one is taken as UTC); pendulum values become plain datetimes."""
    plain = datetime(
        moment.year, moment.month, moment.day, moment.hour, moment.minute, moment.second, moment.microsecond,
        tzinfo=moment.tzinfo,
    )
    return plain.replace(tzinfo=timezone.utc) if plain.tzinfo is None else plain.astimezone(timezone.utc)


def utc_naive(moment: datetime) -> datetime:
    """UTC wall time without a zone: what the targets store (a naive value is taken as UTC)."""
    return as_utc(moment).replace(tzinfo=None)


def to_source_time(moment: datetime | None, zone: ZoneInfo) -> datetime | None:
    """An aware moment as the naive local time a source stores; a naive one is already local."""
    if moment is None or moment.tzinfo is None:
        return moment
    return moment.astimezone(zone).replace(tzinfo=None)


def from_source_time(local: datetime, zone: ZoneInfo) -> datetime:
    """A naive local time of ``zone`` as aware UTC (the inverse of ``to_source_time``).

    In the autumn hour that occurs twice the first (daylight) reading is taken; a time
    skipped in spring is read with the offset before the change (zoneinfo's fold=0).
    """
    if local.tzinfo is not None:
        return as_utc(local)
    return local.replace(tzinfo=zone).astimezone(timezone.utc)
