"""How the CLI prints results: one spelling of sync outcomes, ledger rows and health."""

from __future__ import annotations

from collections.abc import Iterable
from datetime import datetime
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:  # rich is imported when something is printed (datasync.cli.consoles)
    from rich.console import Console
    from rich.table import Table


def count(value: int | None) -> str:
    return "" if value is None else f"{value:,}"


def timestamp(value: datetime | None) -> str:
    return value.strftime("%Y-%m-%d %H:%M:%S") if value else ""


def print_outcomes(outcomes: Iterable[Any], out: Console) -> bool:
    """One line per due sync run (``service.DueOutcome``); True if any failed."""
    failed = False
    shown = False
    for o in outcomes:
        shown = True
        if o.result:
            r = o.result
            out.print(
                f"{o.table:16} {o.sync_type:7} {r.rows:>9,} rows {r.inserted:>9,} inserted "
                f"{r.updated:>8,} updated  {r.seconds:6.2f} s",
                highlight=False,
            )
        elif getattr(o, "skipped", None):
            out.print(f"[yellow]skipped:[/yellow] {o.skipped}", highlight=False)
        else:
            failed = True
            out.print(f"[red]{o.table} {o.sync_type} failed:[/red] {o.error}", highlight=False)
    if not shown:
        out.print("nothing is due")
    return failed


def ledger_table(rows: Iterable[Any]) -> Table:
    """DataUpdate rows (``ledger.LedgerRow``), newest first."""
    from rich.table import Table

    view = Table("ID", "Table", "Type", "Start (UTC)", "End (UTC)", "MinimumDT", "Records", "Ins", "Upd", "Status", "Error")
    for r in rows:
        view.add_row(
            str(r.data_update_id), r.table_name, r.update_type, timestamp(r.start_dt), timestamp(r.end_dt),
            timestamp(r.minimum_dt), str(r.number_records), count(r.rows_inserted), count(r.rows_updated), r.status,
            (r.error_message or "")[:80],
        )
    return view
