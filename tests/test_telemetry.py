"""Telemetry to the seed's contract after real syncs (SQLite and PostgreSQL targets, the demo JDE source).

Metrics and spans are read back with the OpenTelemetry SDK's in-memory reader
and exporter; StatsD lines with a real UDP socket; log fields from the records
the real modules (engine, target, fetcher) emit.
"""

from __future__ import annotations

import logging
import socket
import uuid
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import psycopg
import pytest
from opentelemetry.sdk.metrics import MeterProvider
from opentelemetry.sdk.metrics.export import InMemoryMetricReader
from opentelemetry.sdk.trace import TracerProvider
from opentelemetry.sdk.trace.export import SimpleSpanProcessor
from opentelemetry.sdk.trace.export.in_memory_span_exporter import InMemorySpanExporter
from opentelemetry.trace import StatusCode

from conftest import table_entry
from datasync.engine import logscope, service, telemetry
from datasync.engine.configuration import parse_config
from datasync.engine.postprocessors import PostProcessor, register_post_processor
from datasync.engine.statsd import StatsdBridge, StatsdSettings
from datasync.engine.sync import SyncRequest
from datasync.engine.telemetry import TelemetrySettings
from datasync_demo.generator import write_demo_source

PG_ADMIN = "host=127.0.0.1 port=5432 user=postgres dbname=postgres"


@register_post_processor
class LogRowCount(PostProcessor):
    """Logs the synced row count (a post-processor's line must carry the sync's fields)."""

    def run(self, target: Any, table: Any, result: Any) -> None:
        logging.getLogger("datasync_test.postprocessor").info("post-processed %d rows", result.rows)


class Captured(logging.Handler):
    def __init__(self) -> None:
        super().__init__(logging.DEBUG)
        self.records: list[logging.LogRecord] = []

    def emit(self, record: logging.LogRecord) -> None:
        self.records.append(record)


@pytest.fixture
def otel() -> Iterator[tuple[InMemoryMetricReader, InMemorySpanExporter]]:
    reader = InMemoryMetricReader()
    spans = InMemorySpanExporter()
    tracer_provider = TracerProvider()
    tracer_provider.add_span_processor(SimpleSpanProcessor(spans))
    telemetry.install(MeterProvider(metric_readers=[reader]), tracer_provider)
    yield reader, spans
    telemetry.install()


@pytest.fixture
def source(tmp_path_factory: pytest.TempPathFactory) -> Path:
    path = tmp_path_factory.mktemp("source") / "jde.db"
    write_demo_source(path, rows=1000)
    return path


@pytest.fixture(params=["sqlite", "postgres"])
def target_url(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[str]:
    if request.param == "sqlite":
        yield f"sqlite:///{tmp_path / 'cache.db'}"
        return
    name = f"datasync_tel_{uuid.uuid4().hex[:10]}"
    with psycopg.connect(PG_ADMIN, autocommit=True) as admin:
        admin.execute(f'CREATE DATABASE "{name}"')
    try:
        yield f"postgres://postgres@127.0.0.1:5432/{name}"
    finally:
        with psycopg.connect(PG_ADMIN, autocommit=True) as admin:
            admin.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')


@pytest.fixture
def cfg(source: Path, target_url: str, monkeypatch: pytest.MonkeyPatch) -> Any:
    monkeypatch.setenv("AIRFLOW_CONN_DATASYNC_JDE", f"sqlite:///{source}")
    monkeypatch.setenv("AIRFLOW_CONN_DATASYNC_TARGET", target_url)
    return parse_config(
        {"BatchSize": 7, "DataSources": [table_entry("Item_Curr", "JdeItemFetcher", PostProcessorTypeName="LogRowCount")]}
    )


def points(reader: InMemoryMetricReader) -> dict[str, tuple[Any, list[Any]]]:
    """{instrument name: (metric, data points)} of the DataSync meter."""
    out: dict[str, tuple[Any, list[Any]]] = {}
    data = reader.get_metrics_data()
    for resource in data.resource_metrics if data else []:
        for scope in resource.scope_metrics:
            if scope.scope.name != telemetry.METER_NAME:
                continue
            for metric in scope.metrics:
                out[metric.name] = (metric, list(metric.data.data_points))
    return out


def test_metrics_after_real_syncs(cfg: Any, otel: Any) -> None:
    reader, _ = otel
    mass = service.sync_table(cfg, SyncRequest("Item_Curr", "Mass"))
    daily = service.sync_table(cfg, SyncRequest("Item_Curr", "Daily", full_refresh=True))
    assert mass.rows == daily.rows == 20
    got = points(reader)
    assert set(got) == {
        "sync.operations.started", "sync.operations.completed", "sync.operations.failed",
        "sync.duration.seconds", "sync.records.processed",
    } - {"sync.operations.failed"}  # nothing failed: no failure point exists yet

    from opentelemetry.sdk.metrics.export import Histogram, Sum

    for name in ("sync.operations.started", "sync.operations.completed"):
        metric, data = got[name]
        assert isinstance(metric.data, Sum) and metric.data.is_monotonic
        assert {(dict(p.attributes)["table"], dict(p.attributes)["type"]): p.value for p in data} == {
            ("Item_Curr", "Mass"): 1, ("Item_Curr", "Daily"): 1,
        }
    duration, data = got["sync.duration.seconds"]
    assert isinstance(duration.data, Histogram) and duration.unit == "s"
    by_type = {dict(p.attributes)["type"]: p for p in data}
    assert set(by_type) == {"Mass", "Daily"}
    # seconds, not milliseconds: one small sync takes well under a minute and more than nothing
    assert all(p.count == 1 and 0 < p.sum < 60 for p in by_type.values())
    records, data = got["sync.records.processed"]
    assert isinstance(records.data, Histogram)
    assert {dict(p.attributes)["type"]: (p.count, p.sum) for p in data} == {"Mass": (1, 20), "Daily": (1, 20)}
    assert all(set(dict(p.attributes)) == {"table", "type"} for _, ps in got.values() for p in ps)


def test_spans_of_a_sync(cfg: Any, otel: Any) -> None:
    _, exporter = otel
    from opentelemetry import trace

    # an outer span stands for Airflow's task span (Airflow makes it current around execute)
    outer_tracer = trace.get_tracer("airflow.test", tracer_provider=telemetry._pipeline.tracer_provider)
    with outer_tracer.start_as_current_span("worker.sync") as task_span:
        result = service.sync_table(cfg, SyncRequest("Item_Curr", "Mass"))
    spans = {s.name: s for s in exporter.get_finished_spans()}
    assert {"SyncTable", "lock_wait", "fetch", "load", "merge", "post_process", "worker.sync"} <= set(spans)
    root = spans["SyncTable"]
    assert dict(root.attributes).items() >= {
        "table.name": "Item_Curr", "update.type": "Mass", "operation.id": result.operation_id, "sync.records": 20,
    }.items()
    assert root.parent.span_id == task_span.get_span_context().span_id
    for phase in ("lock_wait", "fetch", "load", "merge"):
        assert spans[phase].parent.span_id == root.context.span_id, phase
        assert spans[phase].context.trace_id == root.context.trace_id
    assert spans["fetch"].attributes["sync.records"] == 20 and spans["load"].attributes["sync.rows"] == 20
    post = spans["post_process"]
    assert post.parent.span_id == root.context.span_id  # through the trace context in the result
    assert post.attributes["operation.id"] == result.operation_id and post.attributes["post_processor"] == "LogRowCount"
    assert root.status.status_code == StatusCode.UNSET
    assert "traceparent" in result.as_dict()["trace_context"]


def test_failed_sync_counts_and_error_span(cfg: Any, otel: Any, monkeypatch: pytest.MonkeyPatch) -> None:
    reader, exporter = otel
    monkeypatch.setenv("AIRFLOW_CONN_DATASYNC_JDE", "sqlite:////nonexistent/dir/jde.db")
    handler = Captured()
    logging.getLogger().addHandler(handler)
    try:
        with pytest.raises(Exception) as failure:
            service.sync_table(cfg, SyncRequest("Item_Curr", "Daily"))
    finally:
        logging.getLogger().removeHandler(handler)
    got = points(reader)
    assert [(dict(p.attributes), p.value) for p in got["sync.operations.failed"][1]] == [({"table": "Item_Curr", "type": "Daily"}, 1)]
    assert "sync.operations.completed" not in got and "sync.records.processed" not in got
    assert [p.count for p in got["sync.duration.seconds"][1]] == [1]
    root = next(s for s in exporter.get_finished_spans() if s.name == "SyncTable")
    assert root.status.status_code == StatusCode.ERROR
    assert [e.name for e in root.events] == ["exception"]
    assert root.events[0].attributes["exception.type"].endswith(type(failure.value).__name__)
    failed_lines = [r for r in handler.records if r.getMessage().startswith("Sync failed")]
    assert len(failed_lines) == 1 and failed_lines[0].levelno == logging.ERROR
    assert str(failure.value) in failed_lines[0].getMessage()
    assert failed_lines[0].OperationId == root.attributes["operation.id"]


def test_every_log_line_of_a_sync_carries_the_scope(cfg: Any) -> None:
    handler = Captured()
    root = logging.getLogger()
    old_level = root.level
    root.addHandler(handler)
    root.setLevel(logging.DEBUG)
    # an in-process CLI test (click's runner) leaves the "datasync" logger at WARNING
    packages = {name: logging.getLogger(name).level for name in ("datasync", "datasync_test")}
    for name in packages:
        logging.getLogger(name).setLevel(logging.DEBUG)
    try:
        result = service.sync_table(cfg, SyncRequest("Item_Curr", "Mass"))
        logging.getLogger("datasync.engine").info("after the sync")
    finally:
        root.removeHandler(handler)
        root.setLevel(old_level)
        for name, level in packages.items():
            logging.getLogger(name).setLevel(level)
    during = handler.records[:-1]
    loggers = {r.name for r in during}
    # lines from the engine, the target, the fetcher (in the prefetch thread) and the post-processor
    assert {"datasync.engine.sync", "datasync.targets.base", "datasync.fetchers.jde", "datasync_test.postprocessor"} <= loggers
    assert any(r.threadName.startswith("datasync-fetch") for r in during if r.name == "datasync.fetchers.jde")
    for r in during:
        assert (r.TableName, r.UpdateType, r.OperationId) == ("Item_Curr", "Mass", result.operation_id), r.getMessage()
    assert not hasattr(handler.records[-1], "TableName")  # the scope ends with the sync


def test_scope_formatter_and_structlog_binding() -> None:
    import structlog

    line = logging.Formatter("%(message)s")
    formatter = logscope.ScopeFormatter("%(levelname)s %(message)s")
    with logscope.sync_scope("F4111", "Hourly", "abc123"):
        record = logging.getLogger("x").makeRecord("x", logging.INFO, __file__, 1, "hello", (), None)
        assert structlog.contextvars.get_contextvars() == {"TableName": "F4111", "UpdateType": "Hourly", "OperationId": "abc123"}
    assert formatter.format(record) == "INFO hello [TableName=F4111 UpdateType=Hourly OperationId=abc123]"
    assert line.format(record) == "hello"
    assert structlog.contextvars.get_contextvars() == {}


def test_statsd_bridge_sends_tagged_points_over_udp(cfg: Any) -> None:
    with socket.socket(socket.AF_INET, socket.SOCK_DGRAM) as server:
        server.bind(("127.0.0.1", 0))
        server.settimeout(5)
        port = server.getsockname()[1]
        for style, expected_start in (
            ("datadog", "sync.operations.started:1|c|#env:test,table:Item_Curr,type:Mass"),
            ("influxdb", "sync.operations.started,table=Item_Curr,type=Mass:1|c"),
            ("plain", "sync.operations.started.Item_Curr.Mass:1|c"),
        ):
            tags = (("env", "test"),) if style == "datadog" else ()
            telemetry.install(statsd=StatsdBridge(StatsdSettings("127.0.0.1", port, style, tags)))
            try:
                service.sync_table(cfg, SyncRequest("Item_Curr", "Mass"))
            finally:
                telemetry.install()
            lines = [server.recv(4096).decode() for _ in range(4)]
            assert lines[0] == expected_start, style
            names = [line.split(":")[0].split(",")[0].split("|")[0] for line in lines]
            if style == "plain":
                names = [n.rsplit(".", 2)[0] for n in names]
            assert names == [
                "sync.operations.started", "sync.duration.seconds", "sync.records.processed", "sync.operations.completed",
            ]
            duration = lines[1]
            assert duration.endswith(("|h", "|h|#env:test,table:Item_Curr,type:Mass"))
            seconds = float(duration.split(":")[1].split("|")[0]) if style != "plain" else float(duration.split(":")[1].split("|")[0])
            assert 0 < seconds < 60
            assert ":20|h" in lines[2]


def test_settings_from_standard_and_airflow_variables() -> None:
    assert not TelemetrySettings.from_environ({}).enabled
    s = TelemetrySettings.from_environ({"OTEL_EXPORTER_OTLP_ENDPOINT": "http://collector:4318"})
    assert s.otlp_metrics and s.otlp_traces and s.metrics_endpoint is None
    s = TelemetrySettings.from_environ({"OTEL_EXPORTER_OTLP_ENDPOINT": "http://c:4318", "OTEL_TRACES_EXPORTER": "none"})
    assert s.otlp_metrics and not s.otlp_traces
    s = TelemetrySettings.from_environ({"OTEL_METRICS_EXPORTER": "otlp", "OTEL_EXPORTER_OTLP_PROTOCOL": "grpc"})
    assert s.otlp_metrics and not s.otlp_traces and s.protocol == "grpc"
    s = TelemetrySettings.from_environ(
        {"AIRFLOW__METRICS__OTEL_ON": "True", "AIRFLOW__METRICS__OTEL_HOST": "otel", "AIRFLOW__METRICS__OTEL_PORT": "4318"}
    )
    assert s.otlp_metrics and s.metrics_endpoint == "http://otel:4318/v1/metrics" and not s.otlp_traces
    s = TelemetrySettings.from_environ(
        {
            "AIRFLOW__METRICS__STATSD_ON": "True", "AIRFLOW__METRICS__STATSD_HOST": "dd-agent",
            "AIRFLOW__METRICS__STATSD_PORT": "9125", "AIRFLOW__METRICS__STATSD_DATADOG_ENABLED": "True",
            "AIRFLOW__METRICS__STATSD_DATADOG_TAGS": "env:prod, team:data",
        }
    )
    assert s.statsd == StatsdSettings("dd-agent", 9125, "datadog", (("env", "prod"), ("team", "data")))
    assert TelemetrySettings.from_environ({"OTEL_SDK_DISABLED": "true", "OTEL_EXPORTER_OTLP_ENDPOINT": "http://c"}).enabled is False


# --------------------------------------------------------------------------- the CLI, exporting to a real OTLP/HTTP receiver


class OtlpReceiver:
    """An OTLP/HTTP (protobuf) receiver on a free port that keeps every export request."""

    def __init__(self) -> None:
        import threading
        from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

        from opentelemetry.proto.collector.metrics.v1.metrics_service_pb2 import ExportMetricsServiceRequest
        from opentelemetry.proto.collector.trace.v1.trace_service_pb2 import ExportTraceServiceRequest

        self.metrics: list[Any] = []
        self.traces: list[Any] = []
        receiver = self

        class Handler(BaseHTTPRequestHandler):
            def do_POST(self) -> None:  # noqa: N802
                body = self.rfile.read(int(self.headers["Content-Length"]))
                if self.path == "/v1/metrics":
                    receiver.metrics.append(ExportMetricsServiceRequest.FromString(body))
                elif self.path == "/v1/traces":
                    receiver.traces.append(ExportTraceServiceRequest.FromString(body))
                self.send_response(200)
                self.send_header("Content-Type", "application/x-protobuf")
                self.end_headers()

            def log_message(self, *args: Any) -> None:
                pass

        self.server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.port = self.server.server_address[1]
        self.thread = threading.Thread(target=self.server.serve_forever, daemon=True)

    def __enter__(self) -> OtlpReceiver:
        self.thread.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self.server.shutdown()

    def metric_points(self) -> dict[str, list[tuple[str, dict[str, str], float]]]:
        """{name: [(unit, attributes, value or histogram sum)]} of the DataSync scope."""
        out: dict[str, list[tuple[str, dict[str, str], float]]] = {}
        for request in self.metrics:
            for rm in request.resource_metrics:
                for sm in rm.scope_metrics:
                    if sm.scope.name != telemetry.METER_NAME:
                        continue
                    for m in sm.metrics:
                        kind = m.WhichOneof("data")
                        for p in getattr(m, kind).data_points:
                            attrs = {a.key: a.value.string_value for a in p.attributes}
                            value = p.sum if kind == "histogram" else p.as_int
                            out.setdefault(m.name, []).append((f"{kind}:{m.unit}", attrs, value))
        return out

    def spans(self) -> list[Any]:
        return [s for r in self.traces for rs in r.resource_spans for ss in rs.scope_spans for s in ss.spans]


def test_cli_sync_exports_otlp_and_logs_the_scope(source: Path, tmp_path: Path) -> None:
    import os
    import subprocess
    import sys

    import yaml

    config = tmp_path / "datasync.yaml"
    config.write_text(yaml.safe_dump({"DataSync": {"BatchSize": 7, "DataSources": [table_entry("Item_Curr", "JdeItemFetcher")]}}))
    env = {k: v for k, v in os.environ.items() if not k.startswith(("OTEL_", "AIRFLOW__", "AIRFLOW_CONN_"))}
    bin_dir = Path(sys.executable).parent
    with OtlpReceiver() as receiver:
        env.update(
            AIRFLOW_CONN_DATASYNC_JDE=f"sqlite:///{source}",
            AIRFLOW_CONN_DATASYNC_TARGET=f"sqlite:///{tmp_path / 'cache.db'}",
            OTEL_EXPORTER_OTLP_ENDPOINT=f"http://127.0.0.1:{receiver.port}",
            OTEL_METRIC_EXPORT_INTERVAL="600000",  # exported when the command exits
        )
        ok = subprocess.run(
            [str(bin_dir / "datasync"), "-v", "run", "Item_Curr", "--type", "mass", "-c", str(config)],
            env=env, capture_output=True, text=True, timeout=120,
        )
        assert ok.returncode == 0, ok.stderr
        env["AIRFLOW_CONN_DATASYNC_JDE"] = "sqlite:////nonexistent/dir/jde.db"
        failed = subprocess.run(
            [str(bin_dir / "datasync"), "-v", "run", "Item_Curr", "--type", "daily", "-c", str(config)],
            env=env, capture_output=True, text=True, timeout=120,
        )
        assert failed.returncode == 1
    got = receiver.metric_points()
    assert got["sync.operations.started"] == [
        ("sum:{operation}", {"table": "Item_Curr", "type": "Mass"}, 1),
        ("sum:{operation}", {"table": "Item_Curr", "type": "Daily"}, 1),
    ]
    assert got["sync.operations.completed"] == [("sum:{operation}", {"table": "Item_Curr", "type": "Mass"}, 1)]
    assert got["sync.operations.failed"] == [("sum:{operation}", {"table": "Item_Curr", "type": "Daily"}, 1)]
    assert got["sync.records.processed"] == [("histogram:{record}", {"table": "Item_Curr", "type": "Mass"}, 20)]
    assert [(u, a) for u, a, _ in got["sync.duration.seconds"]] == [
        ("histogram:s", {"table": "Item_Curr", "type": "Mass"}), ("histogram:s", {"table": "Item_Curr", "type": "Daily"}),
    ]
    spans = receiver.spans()
    roots = [s for s in spans if s.name == "SyncTable"]
    assert [{a.key: a.value.string_value for a in s.attributes if a.key != "sync.records"}["update.type"] for s in roots] == [
        "Mass", "Daily",
    ]
    assert roots[1].status.code == 2  # STATUS_CODE_ERROR
    assert {s.name for s in spans if s.parent_span_id == roots[0].span_id} == {"lock_wait", "fetch", "load", "merge"}

    # every log line of the sync carries the scope; "Sync failed" once, with the error
    op_id = {a.key: a.value.string_value for a in roots[0].attributes}["operation.id"]
    lines = [line for line in ok.stderr.splitlines() if "datasync.engine.sync" in line]
    assert len(lines) == 2 and all(line.endswith(f"[TableName=Item_Curr UpdateType=Mass OperationId={op_id}]") for line in lines)
    failures = [line for line in failed.stderr.splitlines() if "Sync failed" in line]
    assert len(failures) == 1 and "cannot open SQLite source" in failures[0] and "UpdateType=Daily" in failures[0]
