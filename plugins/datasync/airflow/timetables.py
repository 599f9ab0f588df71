"""The sync DAGs' timetable: intervals for backfills, no scheduled runs (the dispatcher starts them).

Airflow's scheduler asks a DAG's timetable for its next run with catchup off;
a backfill asks for the intervals between two dates with catchup on. This
timetable answers the scheduler "none" and the backfill with real
``[start, end)`` intervals of the schedule's IntervalMinutes, so every run in a
sync DAG's grid is one the dispatcher (or a person, or a backfill) asked for.
Registered by the DataSync plugin (custom timetables must be).
"""

from __future__ import annotations

from datetime import timedelta

from airflow.timetables.base import DagRunInfo, DataInterval, TimeRestriction
from airflow.timetables.interval import DeltaDataIntervalTimetable


class DispatchedTimetable(DeltaDataIntervalTimetable):
    """Never scheduled by itself (the datasync dispatcher triggers the runs); backfills get intervals."""

    @property
    def delta(self) -> timedelta:
        return self._delta  # type: ignore[return-value]

    @property
    def summary(self) -> str:
        return f"dispatched (backfill: {self._delta})"

    @property
    def description(self) -> str:
        return f"Started by datasync__dispatcher when due; backfills run in intervals of {self._delta}"

    def next_dagrun_info(
        self, *, last_automated_data_interval: DataInterval | None, restriction: TimeRestriction
    ) -> DagRunInfo | None:
        if not restriction.catchup:  # the scheduler's question (catchup is off on every sync DAG)
            return None
        return super().next_dagrun_info(last_automated_data_interval=last_automated_data_interval, restriction=restriction)
