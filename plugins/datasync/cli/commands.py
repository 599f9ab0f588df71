"""The ``datasync`` command line: operate the cache without the Airflow UI.

Every command reads the config from ``--config`` or $DATASYNC_CONFIG and reaches
databases through Airflow connections (AIRFLOW_CONN_* variables work). Errors
of ours become one clear line and a non-zero exit, never a traceback.
"""

from __future__ import annotations

import json
import logging
import signal
from datetime import datetime
from enum import Enum
from pathlib import Path
from typing import Annotated, Any, Optional

import typer

from datasync.cli import views
from datasync.cli.consoles import err, out
from datasync.core.errors import ConfigError, DataSyncError, SyncCancelled
from datasync.core.types import HealthStatus

app = typer.Typer(add_completion=False, no_args_is_help=True, help=__doc__)

ConfigOpt = Annotated[
    Optional[Path], typer.Option("--config", "-c", envvar="DATASYNC_CONFIG", help="DataSync config (YAML or JSON).")
]


class SyncTypeArg(str, Enum):
    mass = "mass"
    daily = "daily"
    hourly = "hourly"


def _config(path: Path | None) -> Any:
    """The config; also where a command's start ends (the collector resumes: cli.startup_gc)."""
    from datasync.cli import startup_gc
    from datasync.engine.configuration import load_config

    try:
        return load_config(path)
    finally:
        startup_gc.resume()


def _airflow_lookup(conn_id: str) -> Any:
    from datasync.airflow.connections import lookup

    return lookup(conn_id)


def connector() -> Any:
    """AIRFLOW_CONN_* read directly (no Airflow import); Airflow's own lookup for the rest.

    With a secrets backend configured Airflow asks it before the environment, so then
    every lookup goes through Airflow, in Airflow's order.
    """
    from datasync.connections import DirectConnector
    from datasync.connections.info import secrets_backend_configured

    if secrets_backend_configured():
        return DirectConnector(fallback=_airflow_lookup, environ={})
    return DirectConnector(fallback=_airflow_lookup)


def _fail(exc: BaseException, code: int = 1) -> None:
    if isinstance(exc, ConfigError):
        err.print(f"[red]configuration error{' in ' + exc.path if exc.path else ''}:[/red]")
        for problem in exc.problems:
            err.print(f"  - {problem}", markup=False)
    else:
        err.print("[red]error:[/red]", end=" ")
        err.print(str(exc), markup=False, highlight=False)
    raise typer.Exit(code)


def _on_sigterm(signum: int, frame: Any) -> None:
    raise SyncCancelled(f"received signal {signal.Signals(signum).name}")


@app.callback()
def _main(verbose: Annotated[bool, typer.Option("--verbose", "-v", help="Log at INFO level.")] = False) -> None:
    from datasync.engine.logscope import ScopeFormatter

    level = logging.INFO if verbose else logging.WARNING
    handler = logging.StreamHandler()
    # lines logged during a sync end with [TableName=… UpdateType=… OperationId=…]
    handler.setFormatter(ScopeFormatter("%(asctime)s %(levelname)s %(name)s: %(message)s"))
    logging.basicConfig(level=level, handlers=[handler])
    # Airflow's logging setup (on its import) would print every INFO line of ours
    logging.getLogger("datasync").setLevel(level)
    signal.signal(signal.SIGTERM, _on_sigterm)


@app.command("check-config")
def check_config(path: Path) -> None:
    """Validate a config as .NET layers it; print every problem, or what was read and from where."""
    from datasync.config import read_layers
    from datasync.engine.configuration import config_problems, parse_config

    try:
        layered = read_layers(path)
        problems = config_problems(layered, str(path))
        if problems:
            _fail(ConfigError(problems, str(path)))
        config = parse_config(layered, str(path))
    except ConfigError as exc:
        _fail(exc)
    out.print(f"{path}: OK", highlight=False)
    _print_effective(config, layered)


def _print_effective(config: Any, layered: Any) -> None:
    """The effective settings and schedules, each value with its source (file, overlay, variable, default)."""
    from datasync.config.explain import global_settings, schedule_summary, table_settings
    from datasync.config.layers import environment_name

    read = [str(o) for o in dict.fromkeys(layered.origins.values()) if o.kind in ("file", "overlay")]
    variables = sorted({o.where for o in layered.origins.values() if o.kind == "environment"})
    out.print(f"environment {environment_name()}: read {', '.join(read) or '(nothing)'}", highlight=False, markup=False)
    if variables:
        out.print(f"environment variables: {', '.join(variables)}", highlight=False, markup=False)

    def show(settings: list) -> None:
        width = max((len(s.name) for s in settings), default=0)
        for s in settings:
            out.print(f"    {s.name:<{width}}  {s.value:<24}  {s.origin}", highlight=False, markup=False)

    out.print("settings:", highlight=False)
    show(global_settings(config, layered))
    for index, table in enumerate(config.data_sources):
        out.print(
            f"table {table.table_name} ({table.source_system}, {table.fetcher_type_name}):", highlight=False, markup=False
        )
        for line in schedule_summary(table):
            out.print(f"  {line}", highlight=False, markup=False)
        show(table_settings(config, layered, index))


@app.command("demo-source")
def demo_source(
    path: Path,
    rows: Annotated[int, typer.Option(help="Rows in F4801/F4111 (other tables scale).")] = 10_000,
    seed: Annotated[int, typer.Option(help="Random seed; same seed, same data.")] = 42,
    touch: Annotated[Optional[float], typer.Option(help="Instead: update this percent of rows, add half as many.")] = None,
) -> None:
    """Write (or, with --touch, update) the demo JDE/CMS source SQLite database."""
    from datasync.cli import startup_gc
    from datasync_demo import generator as demo

    startup_gc.resume()  # long-running, no config read

    if touch is not None:
        summary = demo.touch(str(path), touch, seed=seed)
        out.print(f"touched {path}: {summary}")
    else:
        summary = demo.write_demo_source(str(path), rows, seed=seed)
        out.print(f"wrote {path}: {summary}")


@app.command("init-db")
def init_db(
    check: Annotated[
        bool, typer.Option("--check", help="Only compare the configured tables with the target's; change nothing.")
    ] = False,
    config: ConfigOpt = None,
) -> None:
    """Create DataUpdate (or upgrade the .NET service's) and every configured target table (idempotent).

    Existing tables are compared with what the config declares; every difference is
    printed, and the exit code is 1 when a sync would fail.
    """
    from datasync.engine import service

    try:
        cfg = _config(config)
        differences = service.check_db(cfg, connector=connector())
        _print_differences(differences)
        if not check:
            names = service.init_db(cfg, connector=connector())
            out.print(f"target ready: DataUpdate, {', '.join(names)}", highlight=False)
    except DataSyncError as exc:
        _fail(exc)
    errors = [d for d in differences if d.severity == "error"]
    if errors:
        tables = sorted({d.table for d in errors})
        err.print(f"[red]{len(errors)} error(s): a sync of {', '.join(tables)} would fail[/red]", highlight=False)
        raise typer.Exit(1)
    if check:
        warnings = sum(d.severity == "warning" for d in differences)
        out.print("target matches the config" + (f" ({warnings} warning(s) above)" if warnings else ""), highlight=False)


def _print_differences(differences: list) -> None:
    colour = {"error": "red", "warning": "yellow", "note": "cyan"}
    for d in differences:
        out.print(f"{d.table}: [{colour[d.severity]}]{d.severity}[/]: ", end="", highlight=False)
        out.print(d.message, markup=False, highlight=False)


@app.command("init-airflow")
def init_airflow(config: ConfigOpt = None) -> None:
    """Create or update the Airflow pool and check the connections (idempotent)."""
    from datasync.airflow.setup import init_airflow as setup

    try:
        for line in setup(_config(config)):
            out.print(line)
    except DataSyncError as exc:
        _fail(exc)


def _parse_dt(value: str | None) -> datetime | None:
    if value is None:
        return None
    try:
        return datetime.fromisoformat(value)
    except ValueError:
        raise typer.BadParameter(f"{value!r} is not an ISO date-time (e.g. 2024-03-01T00:00:00Z)") from None


@app.command("run")
def run(
    table: str,
    sync_type: Annotated[SyncTypeArg, typer.Option("--type", "-t", help="Sync type.")] = SyncTypeArg.daily,
    minimum_dt: Annotated[Optional[str], typer.Option(help="Override MinimumDT (ISO, UTC unless zoned).")] = None,
    full_refresh: Annotated[bool, typer.Option("--full-refresh", help="Fetch everything.")] = False,
    allow_mass_delete: Annotated[
        bool, typer.Option("--allow-mass-delete", help="This run may delete more than MaxDeletePercent of the table.")
    ] = False,
    config: ConfigOpt = None,
) -> None:
    """Run one sync of TABLE now (no schedule check) and print its result."""
    from datasync.engine import service
    from datasync.cli.progress import sync_progress
    from datasync.engine.sync import SyncRequest

    request = SyncRequest(
        table, sync_type.value.capitalize(), full_refresh=full_refresh, minimum_dt=_parse_dt(minimum_dt),
        allow_mass_delete=allow_mass_delete,
    )
    try:
        cfg = _config(config)
        with sync_progress(f"{table} {request.sync_type}") as progress:
            result = service.sync_table(cfg, request, progress=progress, connector=connector())
    except (DataSyncError, KeyboardInterrupt) as exc:
        _fail(exc)
    except Exception as exc:  # noqa: BLE001 - driver errors: the ledger has it, print one line
        _fail(exc)
    typer.echo(  # plain: the one line needs no rich
        f"{result.table} {result.sync_type}: {result.rows:,} rows, {result.inserted:,} inserted, "
        f"{result.updated:,} updated"
        + ("" if result.deleted is None else f", {result.deleted:,} deleted")
        + f" in {result.seconds:.2f} s"
    )


@app.command("verify")
def verify(
    table: str,
    sample: Annotated[int, typer.Option("--sample", help="Sample keys shown per kind of difference.")] = 10,
    as_json: Annotated[bool, typer.Option("--json", help="The report as JSON.")] = False,
    config: ConfigOpt = None,
) -> None:
    """Compare TABLE's cache with its source: row counts, key set, values per key range. Exit 0 when equal."""
    import json

    from datasync.engine import service

    try:
        report = service.verify_table(_config(config), table, sample=sample, connector=connector())
    except Exception as exc:  # noqa: BLE001 - config, source and driver errors: one line, exit 2
        _fail(exc, 2)
    if as_json:
        out.print_json(json.dumps(report.as_dict(), default=str))
    else:
        for line in report.lines():
            out.print(line, highlight=False, markup=False)
    if not report.equal:
        raise typer.Exit(1)


@app.command("run-due")
def run_due(config: ConfigOpt = None) -> None:
    """Run every due sync by priority, at most MaxDegreeOfParallelism at once."""
    from datasync.engine import service

    try:
        outcomes = service.run_due(_config(config), connector=connector())
    except DataSyncError as exc:
        _fail(exc)
    if views.print_outcomes(outcomes, out):
        raise typer.Exit(1)


@app.command("ledger")
def ledger(
    table: Annotated[Optional[str], typer.Option(help="Only this table.")] = None,
    limit: Annotated[int, typer.Option(help="Newest rows to show.")] = 30,
    config: ConfigOpt = None,
) -> None:
    """Show the newest DataUpdate rows."""
    from datasync.engine.ledger import Ledger
    from datasync.engine.service import target_session

    try:
        cfg = _config(config)
        with target_session(cfg, connector=connector()) as target:
            lg = Ledger(target)
            lg.ensure(cfg.ledger_zone)
            rows = lg.recent(table, limit)
    except DataSyncError as exc:
        _fail(exc)
    out.print(views.ledger_table(rows))


@app.command("recover")
def recover(config: ConfigOpt = None) -> None:
    """Close ledger rows of syncs that died (only tables whose lock is free)."""
    from datasync.engine import service

    try:
        closed = service.recover(_config(config), connector=connector())
    except DataSyncError as exc:
        _fail(exc)
    out.print(f"closed {sum(closed.values())} interrupted sync(s)" + (f": {closed}" if closed else ""))


@app.command("purge")
def purge(config: ConfigOpt = None) -> None:
    """Delete ledger rows older than PurgeRetentionDays (keeps each table's latest success per type)."""
    from datasync.engine import service

    try:
        deleted = service.purge(_config(config), connector=connector())
    except DataSyncError as exc:
        _fail(exc)
    out.print(f"purged {deleted} ledger row(s)")


@app.command("health")
def health(
    as_json: Annotated[bool, typer.Option("--json", help="Print JSON.")] = False,
    config: ConfigOpt = None,
) -> None:
    """Healthy (exit 0), Degraded (1) or Unhealthy (2), with per-table LastSync and Status."""
    from datasync.engine import service

    try:
        report = service.health(_config(config), connector=connector())
    except DataSyncError as exc:
        _fail(exc, code=2)
    if as_json:
        out.print_json(json.dumps(report.as_dict()))
    else:
        color = {HealthStatus.HEALTHY: "green", HealthStatus.DEGRADED: "yellow", HealthStatus.UNHEALTHY: "red"}[report.status]
        out.print(f"[{color}]{report.status}[/{color}]")
        from rich.table import Table

        view = Table("Table", "LastSync (UTC)", "Status", "Problems")
        for t in report.tables.values():
            view.add_row(t.table, views.timestamp(t.last_sync), t.status, "; ".join(t.problems))
        out.print(view)
    raise typer.Exit(report.exit_code)


@app.command("demo")
def demo(
    workdir: Annotated[Path, typer.Option(help="Where the demo databases go.")] = Path("demo"),
    rows: Annotated[int, typer.Option(help="Rows in the demo source's big tables.")] = 20_000,
    touch: Annotated[float, typer.Option(help="Percent of rows the simulated ERP day touches.")] = 2.0,
    airflow: Annotated[bool, typer.Option(help="Also run one sync DAG through Airflow (SQLite metadata DB).")] = True,
    config: ConfigOpt = None,
) -> None:
    """The main job on the embedded default: source -> mass -> ERP day -> due daily/hourly -> ledger, health."""
    from datasync.cli import startup_gc
    from datasync_demo.run import run_demo

    startup_gc.resume()  # long-running: the demo reads its config itself
    try:
        code = run_demo(workdir, rows, touch, config, out, airflow=airflow)
    except DataSyncError as exc:
        _fail(exc)
    raise typer.Exit(code)


def main() -> None:
    """The ``datasync`` command: run it, then exit without the interpreter's teardown (cli.quick_exit)."""
    from datasync.cli.quick_exit import exit_code, quick_exit

    try:
        app()
        code = 0
    except SyncCancelled as exc:
        err.print(f"cancelled: {exc}")
        code = 143
    except SystemExit as exc:  # typer ends every command this way
        code = exit_code(exc)
    quick_exit(code)


if __name__ == "__main__":
    main()
