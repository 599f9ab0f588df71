"""Domain values with names: sync types, ledger states, health statuses.

They are str/int enums, so they compare equal to the seed's spellings ("Mass",
-2, "Healthy") and are stored and serialised as those, but code names them.
"""

from __future__ import annotations

from enum import IntEnum, StrEnum


class SyncType(StrEnum):
    """The seed's UpdateType values, highest priority first."""

    MASS = "Mass"
    DAILY = "Daily"
    HOURLY = "Hourly"

    @property
    def priority(self) -> int:
        """0 for Mass (highest), 1 Daily, 2 Hourly."""
        return list(SyncType).index(self)

    @property
    def higher(self) -> tuple[SyncType, ...]:
        """The types that outrank this one (Mass for Daily; Mass and Daily for Hourly)."""
        return tuple(SyncType)[: self.priority]

    @classmethod
    def parse(cls, value: str) -> SyncType:
        """Case-insensitive: 'mass', 'MASS' and 'Mass' are all SyncType.MASS."""
        for member in cls:
            if member.value.lower() == str(value).strip().lower():
                return member
        raise ValueError(f"{value!r} is not a sync type; one of {', '.join(cls)}")


SYNC_TYPES: tuple[SyncType, ...] = tuple(SyncType)


class LedgerState(IntEnum):
    """DataUpdate.NumberRecords below zero: a sync in progress, or one that failed."""

    IN_PROGRESS = -2
    FAILED = -1


class HealthStatus(StrEnum):
    """The ASP.NET health-check statuses the seed reported, mildest first."""

    HEALTHY = "Healthy"
    DEGRADED = "Degraded"
    UNHEALTHY = "Unhealthy"

    @property
    def severity(self) -> int:
        return list(HealthStatus).index(self)

    @property
    def exit_code(self) -> int:
        """``datasync health``: 0 Healthy, 1 Degraded, 2 Unhealthy."""
        return self.severity

    def worst(self, other: HealthStatus) -> HealthStatus:
        return self if self.severity >= other.severity else other
