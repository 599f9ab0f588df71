"""The ``datasync`` command line: operate the cache without the Airflow UI.

Every command reads the config from ``--config`` or $DATASYNC_CONFIG and reaches
databases through Airflow connections (AIRFLOW_CONN_* variables work). Errors
of ours become one clear line and a non-zero exit, never a traceback.

Written with click: typer (0.29) builds a Pydantic adapter for every parameter
and loads Pydantic's plugins at each start, about 70 ms of a 0.6 s ``datasync run``.
"""

from __future__ import annotations

import json
import logging
import signal
from datetime import datetime
from pathlib import Path
from typing import Any, NoReturn

import click

from datasync.cli import views
from datasync.cli.consoles import err, out
from datasync.core.errors import ConfigError, DataSyncError, SyncCancelled
from datasync.core.types import HealthStatus

_HELP = """Operate the datasync cache without the Airflow UI.

Every command reads the config from --config or $DATASYNC_CONFIG and reaches databases
through Airflow connections (AIRFLOW_CONN_* variables work)."""

#: the option of every command that reads the config
config_option = click.option(
    "--config", "-c", "config", type=click.Path(path_type=Path), envvar="DATASYNC_CONFIG", show_envvar=True,
    help="DataSync config (YAML or JSON).",
)


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


def _fail(exc: BaseException, code: int = 1) -> NoReturn:
    if isinstance(exc, ConfigError):
        err.print(f"[red]configuration error{' in ' + exc.path if exc.path else ''}:[/red]")
        for problem in exc.problems:
            err.print(f"  - {problem}", markup=False)
    else:
        err.print("[red]error:[/red]", end=" ")
        err.print(str(exc), markup=False, highlight=False)
    raise SystemExit(code)


def _on_sigterm(signum: int, frame: Any) -> None:
    raise SyncCancelled(f"received signal {signal.Signals(signum).name}")


@click.group(no_args_is_help=True, help=_HELP, context_settings={"max_content_width": 120})
@click.option("--verbose", "-v", is_flag=True, help="Log at INFO level.")
def app(verbose: bool) -> None:
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
@click.argument("path", type=click.Path(path_type=Path))
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
@click.argument("path", type=click.Path(path_type=Path))
@click.option("--rows", type=int, default=10_000, show_default=True, help="Rows in F4801/F4111 (other tables scale).")
@click.option("--seed", type=int, default=42, show_default=True, help="Random seed; same seed, same data.")
@click.option("--touch", type=float, default=None, help="Instead: update this percent of rows, add half as many.")
def demo_source(path: Path, rows: int, seed: int, touch: float | None) -> None:
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
@click.option("--check", is_flag=True, help="Only compare the configured tables with the target's; change nothing.")
@config_option
def init_db(check: bool, config: Path | None) -> None:
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
        raise SystemExit(1)
    if check:
        warnings = sum(d.severity == "warning" for d in differences)
        out.print("target matches the config" + (f" ({warnings} warning(s) above)" if warnings else ""), highlight=False)


def _print_differences(differences: list) -> None:
    colour = {"error": "red", "warning": "yellow", "note": "cyan"}
    for d in differences:
        out.print(f"{d.table}: [{colour[d.severity]}]{d.severity}[/]: ", end="", highlight=False)
        out.print(d.message, markup=False, highlight=False)


@app.command("init-airflow")
@config_option
def init_airflow(config: Path | None) -> None:
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
        raise click.BadParameter(f"{value!r} is not an ISO date-time (e.g. 2024-03-01T00:00:00Z)") from None


@app.command("run")
@click.argument("table")
@click.option(
    "--type", "-t", "sync_type", type=click.Choice(["mass", "daily", "hourly"]), default="daily", show_default=True,
    help="Sync type.",
)
@click.option("--minimum-dt", help="Override MinimumDT (ISO, UTC unless zoned).")
@click.option("--full-refresh", is_flag=True, help="Fetch everything.")
@click.option("--allow-mass-delete", is_flag=True, help="This run may delete more than MaxDeletePercent of the table.")
@config_option
def run(
    table: str, sync_type: str, minimum_dt: str | None, full_refresh: bool, allow_mass_delete: bool, config: Path | None
) -> None:
    """Run one sync of TABLE now (no schedule check) and print its result."""
    from datasync.engine import service
    from datasync.cli.progress import sync_progress
    from datasync.engine.sync import SyncRequest

    request = SyncRequest(
        table, sync_type.capitalize(), full_refresh=full_refresh, minimum_dt=_parse_dt(minimum_dt),
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
    click.echo(  # plain: the one line needs no rich
        f"{result.table} {result.sync_type}: {result.rows:,} rows, {result.inserted:,} inserted, "
        f"{result.updated:,} updated"
        + ("" if result.deleted is None else f", {result.deleted:,} deleted")
        + f" in {result.seconds:.2f} s"
    )


@app.command("verify")
@click.argument("table")
@click.option("--sample", type=int, default=10, show_default=True, help="Sample keys shown per kind of difference.")
@click.option("--json", "as_json", is_flag=True, help="The report as JSON.")
@config_option
def verify(table: str, sample: int, as_json: bool, config: Path | None) -> None:
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
        raise SystemExit(1)


@app.command("run-due")
@config_option
def run_due(config: Path | None) -> None:
    """Run every due sync by priority, at most MaxDegreeOfParallelism at once."""
    from datasync.engine import service

    try:
        outcomes = service.run_due(_config(config), connector=connector())
    except DataSyncError as exc:
        _fail(exc)
    if views.print_outcomes(outcomes, out):
        raise SystemExit(1)


@app.command("ledger")
@click.option("--table", help="Only this table.")
@click.option("--limit", type=int, default=30, show_default=True, help="Newest rows to show.")
@config_option
def ledger(table: str | None, limit: int, config: Path | None) -> None:
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
@config_option
def recover(config: Path | None) -> None:
    """Close ledger rows of syncs that died (only tables whose lock is free)."""
    from datasync.engine import service

    try:
        closed = service.recover(_config(config), connector=connector())
    except DataSyncError as exc:
        _fail(exc)
    out.print(f"closed {sum(closed.values())} interrupted sync(s)" + (f": {closed}" if closed else ""))


@app.command("purge")
@config_option
def purge(config: Path | None) -> None:
    """Delete ledger rows older than PurgeRetentionDays (keeps each table's latest success per type)."""
    from datasync.engine import service

    try:
        deleted = service.purge(_config(config), connector=connector())
    except DataSyncError as exc:
        _fail(exc)
    out.print(f"purged {deleted} ledger row(s)")


@app.command("health")
@click.option("--json", "as_json", is_flag=True, help="Print JSON.")
@config_option
def health(as_json: bool, config: Path | None) -> None:
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
    raise SystemExit(report.exit_code)


@app.command("demo")
@click.option(
    "--workdir", type=click.Path(path_type=Path), default=Path("demo"), show_default=True,
    help="Where the demo databases go.",
)
@click.option("--rows", type=int, default=20_000, show_default=True, help="Rows in the demo source's big tables.")
@click.option("--touch", type=float, default=2.0, show_default=True, help="Percent of rows the simulated ERP day touches.")
@click.option(
    "--airflow/--no-airflow", default=True, show_default=True,
    help="Also run one sync DAG through Airflow (SQLite metadata DB).",
)
@config_option
def demo(workdir: Path, rows: int, touch: float, airflow: bool, config: Path | None) -> None:
    """The main job on the embedded default: source -> mass -> ERP day -> due daily/hourly -> ledger, health."""
    from datasync.cli import startup_gc
    from datasync_demo.run import run_demo

    startup_gc.resume()  # long-running: the demo reads its config itself
    try:
        code = run_demo(workdir, rows, touch, config, out, airflow=airflow)
    except DataSyncError as exc:
        _fail(exc)
    raise SystemExit(code)


def main() -> None:
    """The ``datasync`` command: run it, then exit without the interpreter's teardown (cli.quick_exit)."""
    from datasync.cli.quick_exit import exit_code, quick_exit

    try:
        app()
        code = 0
    except SyncCancelled as exc:
        err.print(f"cancelled: {exc}")
        code = 143
    except SystemExit as exc:  # click ends every command this way
        code = exit_code(exc)
    quick_exit(code)


if __name__ == "__main__":
    main()
