"""The README's main job on the embedded default (SQLite source and target).

Generate the demo JDE/CMS source, mass-sync every table, simulate a day of ERP
activity, run the due daily and hourly syncs, then show ledger, health and a
source-versus-target row count per table.
"""

from __future__ import annotations

import os
from datetime import timedelta
from pathlib import Path

from rich.console import Console
from rich.table import Table

from datasync.engine.configuration import load_config
from datasync.cli.views import print_outcomes
from datasync.engine.ledger import Ledger
from datasync.core.times import utcnow

REPO = Path(__file__).resolve().parents[2]


def demo_environment(workdir: Path) -> dict[str, str]:
    """Point the datasync connections at files in ``workdir`` unless the user set them."""
    workdir.mkdir(parents=True, exist_ok=True)
    source = (workdir / "jde_source.db").resolve()
    target = (workdir / "cache.db").resolve()
    env = {
        "AIRFLOW_CONN_DATASYNC_JDE": f"sqlite:///{source}",
        "AIRFLOW_CONN_DATASYNC_CMS": f"sqlite:///{source}",
        "AIRFLOW_CONN_DATASYNC_TARGET": f"sqlite:///{target}",
    }
    for key, value in env.items():
        os.environ.setdefault(key, value)
    return {k: os.environ[k] for k in env}


def run_demo(
    workdir: Path, rows: int, touch_pct: float, config_path: Path | None, out: Console, airflow: bool = True
) -> int:
    from datasync_demo import generator as demo
    from datasync.engine import service
    from datasync.connections import DirectConnector

    config_file = Path(config_path or os.environ.get("DATASYNC_CONFIG") or REPO / "include" / "datasync.yaml").resolve()
    cfg = load_config(config_file)
    env = demo_environment(workdir)
    connections = DirectConnector()
    source = connections.info("datasync_jde").sqlite_path
    for p in Path(source), Path(connections.info(cfg.target_conn_id).sqlite_path):
        for f in p.parent.glob(p.name + "*"):
            f.unlink()

    out.rule("1. demo source")
    out.print(f"{demo.write_demo_source(source, rows)}  ->  {source}")
    out.print("connections: " + ", ".join(f"{k}={v}" for k, v in env.items()), highlight=False)

    out.rule("2. init-db and mass sync of every table (all due: never synced)")
    service.init_db(cfg)
    print_outcomes(service.run_due(cfg, run_id="demo-mass"), out)

    out.rule(f"3. a day of ERP activity: touch {touch_pct}% of rows")
    for table, (updated, added) in demo.touch(source, touch_pct).items():
        out.print(f"{table:10} {updated:>7,} rows updated {added:>7,} rows added")

    if airflow:
        out.rule("4. Airflow on SQLite: the WorkOrder_Curr Daily DAG run by Airflow")
        _airflow_daily(workdir, cfg, config_file, out)

    # the Mass satisfies Daily and Hourly (DESIGN §6): ask the schedule as if time had moved on
    out.rule("5. due syncs a day later (Daily), then an hour after that (Hourly)")
    print_outcomes(service.run_due(cfg, run_id="demo-daily", now=utcnow() + timedelta(days=1)), out)
    print_outcomes(service.run_due(cfg, run_id="demo-hourly", now=utcnow() + timedelta(minutes=61)), out)

    out.rule("6. ledger (DataUpdate)")
    with service.target_session(cfg) as target:
        view = Table("ID", "Table", "Type", "Records", "Inserted", "Updated", "Status", "RunId")
        for r in reversed(Ledger(target).recent(limit=50)):
            view.add_row(
                str(r.data_update_id), r.table_name, r.update_type, f"{r.number_records:,}",
                f"{r.rows_inserted or 0:,}", f"{r.rows_updated or 0:,}", r.status, r.run_id or "",
            )
        out.print(view)
        out.rule("7. health and target = source")
        report = service.health(cfg, target)
        out.print(f"health: {report.status}")
        counts = _compare_counts(cfg, target, source)
    view = Table("Table", "LastSync (UTC)", "Status", "Source rows", "Target rows")
    for name, t in report.tables.items():
        src, tgt = counts[name]
        view.add_row(name, t.last_sync.strftime("%Y-%m-%d %H:%M:%S") if t.last_sync else "", t.status, f"{src:,}", f"{tgt:,}")
    out.print(view)
    mismatched = [n for n, (s, t) in counts.items() if s != t]
    if mismatched:
        out.print(f"[red]target differs from source for: {', '.join(mismatched)}[/red]")
        return 1
    out.print("[green]every target table holds exactly the source's rows[/green]")
    return 0


def _airflow_daily(workdir: Path, cfg, config_file: Path, out: Console) -> None:
    """Run one sync DAG with ``airflow dags test`` on a SQLite metadata DB in ``workdir``."""
    import subprocess
    import sys

    from datasync.engine.service import target_session

    airflow = str(Path(sys.executable).parent / "airflow")
    home = (workdir / "airflow_home").resolve()
    env = {k: v for k, v in os.environ.items() if k != "AIRFLOW__CORE__UNIT_TEST_MODE"}
    env.update(
        {
            "AIRFLOW_HOME": str(home),
            "AIRFLOW__DATABASE__SQL_ALCHEMY_CONN": f"sqlite:///{home / 'airflow.db'}",
            "AIRFLOW__CORE__DAGS_FOLDER": str(REPO / "dags"),
            "AIRFLOW__CORE__LOAD_EXAMPLES": "False",
            "DATASYNC_CONFIG": str(config_file),
        }
    )
    dag_id = "datasync__WorkOrder_Curr__daily"
    for cmd in ([airflow, "db", "migrate"], [airflow, "dags", "test", dag_id]):
        out.print(f"$ airflow {' '.join(cmd[1:])}", highlight=False)
        proc = subprocess.run(cmd, env=env, capture_output=True, text=True, timeout=600)
        if proc.returncode != 0:
            out.print(proc.stdout[-3000:], proc.stderr[-3000:], markup=False, highlight=False)
            raise RuntimeError(f"airflow {' '.join(cmd[1:])} failed with exit code {proc.returncode}")
    with target_session(cfg) as target:
        runs = [r for r in Ledger(target).recent("WorkOrder_Curr", limit=5) if r.run_id and r.run_id.startswith("manual__")]
    if not runs:
        raise RuntimeError(f"{dag_id} ran but left no ledger row")
    r = runs[0]
    out.print(
        f"Airflow run {r.run_id}: WorkOrder_Curr {r.update_type} {r.status}, {r.number_records:,} rows, "
        f"{r.rows_inserted:,} inserted, {r.rows_updated:,} updated (metadata DB {home / 'airflow.db'})",
        highlight=False,
    )


def _compare_counts(cfg, target, source: str) -> dict[str, tuple[int, int]]:
    """Rows each fetcher delivers from the source now versus rows in the target table."""
    from datasync.connections import DirectConnector
    from datasync.engine.sync import build_fetcher

    counts = {}
    for ds in cfg.enabled_tables():
        reader = DirectConnector().source(cfg.source_system(ds.source_system).conn_id)
        try:
            fetcher = build_fetcher(cfg, ds, reader)
            src = sum(b.num_rows for b in fetcher.fetch(None))
        finally:
            reader.close()
        tgt = target.fetch("ddl", "count_rows", name=ds.table_name)[0][0]
        counts[ds.table_name] = (src, int(tgt))
    return counts
