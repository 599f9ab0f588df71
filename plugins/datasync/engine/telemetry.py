"""Metrics and spans of sync operations: the seed's contract, through the OpenTelemetry API.

Metrics: a meter ``DataSync`` with counters sync.operations.started /
completed / failed and histograms sync.duration.seconds (unit s, seconds) and
sync.records.processed, every point tagged ``table`` and ``type``. Traces: a
``SyncTable`` span per operation (``table.name``, ``update.type``,
``operation.id``) with child spans lock_wait, fetch, load, merge and
post_process; it is a child of whatever span is current, so in an Airflow task
with ``[traces] otel_on`` it sits under the task's span.

Where the data goes is decided once per process by ``configure``:

- OTLP when the standard variables say so (``OTEL_METRICS_EXPORTER`` /
  ``OTEL_TRACES_EXPORTER`` = otlp, or ``OTEL_EXPORTER_OTLP_[METRICS_|TRACES_]ENDPOINT``),
  or Airflow's ``[metrics]``/``[traces]`` ``otel_on`` with ``otel_host``/``otel_port``;
- StatsD (with tags) when Airflow's ``[metrics] statsd_on`` is set (engine.statsd);
- a provider someone else installed (Airflow's tracer, ``opentelemetry-instrument``)
  is used as it is.

Off, nothing is imported: the OpenTelemetry SDK and exporters load only when
an exporter is configured, and the API only when it is already loaded.
"""

from __future__ import annotations

import atexit
import logging
import os
import sys
import time
from collections.abc import Callable, Iterator, Mapping
from contextlib import contextmanager
from dataclasses import dataclass
from typing import Any

from datasync.engine import logscope
from datasync.engine.statsd import DATADOG, INFLUXDB, PLAIN, StatsdBridge, StatsdSettings

log = logging.getLogger(__name__)

METER_NAME = "DataSync"
SPAN_NAME = "SyncTable"
SERVICE_NAME = "datasync"
PHASES = ("lock_wait", "fetch", "load", "merge", "post_process")

STARTED = "sync.operations.started"
COMPLETED = "sync.operations.completed"
FAILED = "sync.operations.failed"
DURATION = "sync.duration.seconds"
RECORDS = "sync.records.processed"

DURATION_BUCKETS = (0.5, 1, 2.5, 5, 10, 30, 60, 120, 300, 600, 1800, 3600, 7200)
RECORD_BUCKETS = (0, 10, 100, 1_000, 10_000, 100_000, 1_000_000, 10_000_000)

_TRUE = {"1", "true", "yes", "on"}


# --------------------------------------------------------------------------- settings


@dataclass(frozen=True)
class TelemetrySettings:
    """Where metrics and spans go; built from the environment or from Airflow's config."""

    otlp_metrics: bool = False
    otlp_traces: bool = False
    metrics_endpoint: str | None = None  # None: the exporter reads OTEL_EXPORTER_OTLP_* itself
    traces_endpoint: str | None = None
    protocol: str = "http/protobuf"  # or grpc
    export_interval_ms: int | None = None
    statsd: StatsdSettings | None = None

    @property
    def enabled(self) -> bool:
        return self.otlp_metrics or self.otlp_traces or self.statsd is not None

    @classmethod
    def from_environ(cls, environ: Mapping[str, str] | None = None) -> TelemetrySettings:
        """OTEL_* variables, and Airflow's ``[metrics]``/``[traces]`` given as AIRFLOW__SECTION__KEY."""
        env = os.environ if environ is None else environ
        return cls.from_lookup(lambda section, key: env.get(f"AIRFLOW__{section.upper()}__{key.upper()}"), env)

    @classmethod
    def from_lookup(cls, airflow: Callable[[str, str], str | None], environ: Mapping[str, str]) -> TelemetrySettings:
        """``airflow(section, key)`` answers Airflow-style settings (None when unset); OTEL_* win."""
        env = environ
        if _flag(env.get("OTEL_SDK_DISABLED")):
            return cls(statsd=_statsd_settings(airflow))
        protocol = (
            env.get("OTEL_EXPORTER_OTLP_METRICS_PROTOCOL") or env.get("OTEL_EXPORTER_OTLP_PROTOCOL") or "http/protobuf"
        )
        metrics_on, metrics_endpoint = _signal("METRICS", "metrics", "/v1/metrics", airflow, env)
        traces_on, traces_endpoint = _signal("TRACES", "traces", "/v1/traces", airflow, env)
        interval = env.get("OTEL_METRIC_EXPORT_INTERVAL") or airflow("metrics", "otel_interval_milliseconds")
        return cls(
            otlp_metrics=metrics_on,
            otlp_traces=traces_on,
            metrics_endpoint=metrics_endpoint,
            traces_endpoint=traces_endpoint,
            protocol=protocol,
            export_interval_ms=int(interval) if interval else None,
            statsd=_statsd_settings(airflow),
        )


def _flag(value: str | None) -> bool:
    return str(value or "").strip().lower() in _TRUE


def _signal(
    env_name: str, section: str, path: str, airflow: Callable[[str, str], str | None], env: Mapping[str, str]
) -> tuple[bool, str | None]:
    """(export over OTLP?, explicit endpoint) for metrics or traces."""
    exporter = (env.get(f"OTEL_{env_name}_EXPORTER") or "").lower()
    if exporter == "none":
        return False, None
    if "otlp" in exporter or env.get("OTEL_EXPORTER_OTLP_ENDPOINT") or env.get(f"OTEL_EXPORTER_OTLP_{env_name}_ENDPOINT"):
        return True, None
    if _flag(airflow(section, "otel_on")):
        host, port = airflow(section, "otel_host"), airflow(section, "otel_port")
        if host and port:
            scheme = "https" if _flag(airflow(section, "otel_ssl_active")) else "http"
            return True, f"{scheme}://{host}:{port}{path}"
        return True, None
    return False, None


def _statsd_settings(airflow: Callable[[str, str], str | None]) -> StatsdSettings | None:
    if not _flag(airflow("metrics", "statsd_on")):
        return None
    style = DATADOG if _flag(airflow("metrics", "statsd_datadog_enabled")) else PLAIN
    if _flag(airflow("metrics", "statsd_influxdb_enabled")):
        style = INFLUXDB
    tags = tuple(
        tuple(t.split(":", 1)) if ":" in t else (t, "")  # type: ignore[misc]
        for t in (x.strip() for x in (airflow("metrics", "statsd_datadog_tags") or "").split(","))
        if t
    )
    return StatsdSettings(
        host=airflow("metrics", "statsd_host") or "localhost",
        port=int(airflow("metrics", "statsd_port") or 8125),
        tag_style=style,
        constant_tags=tags if style == DATADOG else (),
    )


# --------------------------------------------------------------------------- the process's pipeline


class _Pipeline:
    """The providers and bridges this process sends to (one per process, set by configure/install)."""

    def __init__(self) -> None:
        self.meter_provider: Any = None  # None: the API's global one
        self.tracer_provider: Any = None
        self.statsd: StatsdBridge | None = None
        self.otel = False  # False: no OpenTelemetry at all (not loaded, not configured)
        self.instruments: dict[str, Any] | None = None
        self.tracer: Any = None
        self.owned: list[Any] = []  # providers created here: flushed and shut down at exit

    def use_otel(self) -> bool:
        # a process where something loaded OpenTelemetry may have a global provider (Airflow's tracer)
        return self.otel or "opentelemetry.trace" in sys.modules or "opentelemetry.metrics" in sys.modules


_pipeline = _Pipeline()
_configured: list[bool] = []


def configure(settings: TelemetrySettings | None = None) -> None:
    """Set up exporting once per process (from the environment unless ``settings`` are given)."""
    if _configured:
        return
    _configured.append(True)
    settings = settings or TelemetrySettings.from_environ()
    meter_provider = tracer_provider = None
    if settings.otlp_metrics:
        meter_provider = _otlp_meter_provider(settings)
    if settings.otlp_traces and not _global_tracer_is_sdk():
        tracer_provider = _otlp_tracer_provider(settings)
    bridge = StatsdBridge(settings.statsd) if settings.statsd else None
    install(meter_provider, tracer_provider, bridge)
    owned = [p for p in (meter_provider, tracer_provider) if p is not None]
    _pipeline.owned = owned
    if owned:
        atexit.register(shutdown)
    if settings.enabled:
        log.debug("telemetry: %s", settings)


def install(meter_provider: Any = None, tracer_provider: Any = None, statsd: StatsdBridge | None = None) -> None:
    """Send to these providers and this bridge from now on (None: the API's global providers).

    For tests and embedders; ``configure`` calls it with what the settings ask for.
    """
    _pipeline.meter_provider = meter_provider
    _pipeline.tracer_provider = tracer_provider
    _pipeline.statsd = statsd
    _pipeline.otel = meter_provider is not None or tracer_provider is not None
    _pipeline.instruments = None
    _pipeline.tracer = None
    if not _configured:
        _configured.append(True)


def flush(timeout_millis: int = 5000) -> None:
    """Export what is pending now (end of a task: the process may not run its exit hooks)."""
    for provider in _pipeline.owned:
        try:
            provider.force_flush(timeout_millis)
        except Exception:  # noqa: BLE001 - an unreachable collector must not fail the task
            log.debug("telemetry flush failed", exc_info=True)


def shutdown() -> None:
    for provider in _pipeline.owned:
        try:
            provider.shutdown()
        except Exception:  # noqa: BLE001
            log.debug("telemetry shutdown failed", exc_info=True)
    _pipeline.owned = []


def _resource() -> Any:
    from opentelemetry.sdk.resources import Resource

    attributes = {} if os.environ.get("OTEL_SERVICE_NAME") else {"service.name": SERVICE_NAME}
    return Resource.create(attributes)


def _otlp_meter_provider(settings: TelemetrySettings) -> Any:
    from opentelemetry.sdk.metrics import MeterProvider
    from opentelemetry.sdk.metrics.export import PeriodicExportingMetricReader

    if settings.protocol == "grpc":
        from opentelemetry.exporter.otlp.proto.grpc.metric_exporter import OTLPMetricExporter
    else:
        from opentelemetry.exporter.otlp.proto.http.metric_exporter import OTLPMetricExporter  # type: ignore[assignment]
    exporter = OTLPMetricExporter(endpoint=settings.metrics_endpoint) if settings.metrics_endpoint else OTLPMetricExporter()
    reader = PeriodicExportingMetricReader(exporter, export_interval_millis=settings.export_interval_ms)
    return MeterProvider(metric_readers=[reader], resource=_resource(), shutdown_on_exit=False)


def _otlp_tracer_provider(settings: TelemetrySettings) -> Any:
    from opentelemetry.sdk.trace import TracerProvider
    from opentelemetry.sdk.trace.export import BatchSpanProcessor

    if settings.protocol == "grpc":
        from opentelemetry.exporter.otlp.proto.grpc.trace_exporter import OTLPSpanExporter
    else:
        from opentelemetry.exporter.otlp.proto.http.trace_exporter import OTLPSpanExporter  # type: ignore[assignment]
    exporter = OTLPSpanExporter(endpoint=settings.traces_endpoint) if settings.traces_endpoint else OTLPSpanExporter()
    provider = TracerProvider(resource=_resource(), shutdown_on_exit=False)
    provider.add_span_processor(BatchSpanProcessor(exporter))
    return provider


def _global_tracer_is_sdk() -> bool:
    """True when something (Airflow's ``[traces] otel_on``) already installed a real tracer provider."""
    if "opentelemetry.trace" not in sys.modules:
        return False
    from opentelemetry import trace

    return not isinstance(trace.get_tracer_provider(), (trace.ProxyTracerProvider, trace.NoOpTracerProvider))


def _instruments() -> dict[str, Any] | None:
    if not _pipeline.use_otel():
        return None
    if _pipeline.instruments is None:
        from opentelemetry import metrics

        provider = _pipeline.meter_provider or metrics.get_meter_provider()
        meter = provider.get_meter(METER_NAME)
        _pipeline.instruments = {
            STARTED: meter.create_counter(STARTED, unit="{operation}", description="Sync operations started"),
            COMPLETED: meter.create_counter(COMPLETED, unit="{operation}", description="Sync operations that succeeded"),
            FAILED: meter.create_counter(FAILED, unit="{operation}", description="Sync operations that failed"),
            DURATION: meter.create_histogram(
                DURATION, unit="s", description="Duration of a sync operation",
                explicit_bucket_boundaries_advisory=list(DURATION_BUCKETS),
            ),
            RECORDS: meter.create_histogram(
                RECORDS, unit="{record}", description="Rows fetched by a sync operation",
                explicit_bucket_boundaries_advisory=list(RECORD_BUCKETS),
            ),
        }
    return _pipeline.instruments


def _tracer() -> Any:
    if not _pipeline.use_otel():
        return None
    if _pipeline.tracer is None:
        from opentelemetry import trace

        provider = _pipeline.tracer_provider or trace.get_tracer_provider()
        _pipeline.tracer = provider.get_tracer(METER_NAME)
    return _pipeline.tracer


# --------------------------------------------------------------------------- recording


def _tags(table: str, sync_type: str) -> dict[str, str]:
    return {"table": table, "type": str(sync_type)}


def _count(name: str, tags: dict[str, str]) -> None:
    instruments = _instruments()
    if instruments is not None:
        instruments[name].add(1, tags)
    if _pipeline.statsd is not None:
        _pipeline.statsd.count(name, 1, tags)


def _record(name: str, value: float, tags: dict[str, str]) -> None:
    instruments = _instruments()
    if instruments is not None:
        instruments[name].record(value, tags)
    if _pipeline.statsd is not None:
        _pipeline.statsd.histogram(name, value, tags)


class Operation:
    """One sync operation being observed: its span, phases and outcome."""

    def __init__(self, table: str, sync_type: str, operation_id: str, span: Any):
        self.table = table
        self.sync_type = str(sync_type)
        self.operation_id = operation_id
        self.span = span
        self.records: int | None = None

    @contextmanager
    def phase(self, name: str, **attributes: Any) -> Iterator[Any]:
        """A child span of SyncTable for one phase (lock_wait, load, merge, ...)."""
        tracer = _tracer()
        if tracer is None or self.span is None:
            yield None
            return
        with tracer.start_as_current_span(name, attributes=attributes or None) as span:
            yield span

    def fetch_span(self) -> Any:
        """The ``fetch`` span, started now and ended by the caller (the source is read in another thread)."""
        tracer = _tracer()
        if tracer is None or self.span is None:
            return None
        from opentelemetry import trace

        return tracer.start_span("fetch", context=trace.set_span_in_context(self.span))

    def succeeded(self, records: int, **attributes: Any) -> None:
        self.records = records
        if self.span is not None:
            self.span.set_attributes({"sync.records": records, **attributes})

    def traceparent(self) -> dict[str, str]:
        """W3C trace context of the SyncTable span (empty when not traced), for a follow-up task."""
        if self.span is None or not self.span.is_recording():
            return {}
        from opentelemetry import trace
        from opentelemetry.trace.propagation.tracecontext import TraceContextTextMapPropagator

        carrier: dict[str, str] = {}
        TraceContextTextMapPropagator().inject(carrier, context=trace.set_span_in_context(self.span))
        return carrier


@contextmanager
def operation(table: str, sync_type: str, operation_id: str) -> Iterator[Operation]:
    """Observe one sync: log scope, SyncTable span, started/completed/failed, duration, records.

    Call ``succeeded(records)`` on the yielded operation when the data is in; an
    exception out of the block counts as a failure and is recorded on the span.
    """
    tags = _tags(table, sync_type)
    attributes = {"table.name": table, "update.type": str(sync_type), "operation.id": operation_id}
    started = time.monotonic()
    with logscope.sync_scope(table, sync_type, operation_id):
        tracer = _tracer()
        span_cm = (
            tracer.start_as_current_span(SPAN_NAME, attributes=attributes, record_exception=False, set_status_on_exception=False)
            if tracer is not None
            else None
        )
        span = span_cm.__enter__() if span_cm is not None else None
        op = Operation(table, str(sync_type), operation_id, span)
        _count(STARTED, tags)
        try:
            yield op
        except BaseException as exc:
            _record(DURATION, time.monotonic() - started, tags)
            _count(FAILED, tags)
            if span is not None:
                _mark_error(span, exc)
            if span_cm is not None:
                span_cm.__exit__(type(exc), exc, exc.__traceback__)
            raise
        _record(DURATION, time.monotonic() - started, tags)
        if op.records is not None:
            _record(RECORDS, op.records, tags)
        _count(COMPLETED, tags)
        if span_cm is not None:
            span_cm.__exit__(None, None, None)


@contextmanager
def post_process(
    table: str, sync_type: str, operation_id: str, traceparent: Mapping[str, str] | None = None, processor: str = ""
) -> Iterator[Any]:
    """The ``post_process`` span (a child of the sync's SyncTable span when ``traceparent`` is given) in the sync's log scope."""
    with logscope.sync_scope(table, sync_type, operation_id):
        tracer = _tracer()
        if tracer is None:
            yield None
            return
        context = None
        if traceparent:
            from opentelemetry.trace.propagation.tracecontext import TraceContextTextMapPropagator

            context = TraceContextTextMapPropagator().extract(dict(traceparent))
        attributes = {"table.name": table, "update.type": str(sync_type), "operation.id": operation_id}
        if processor:
            attributes["post_processor"] = processor
        with tracer.start_as_current_span(
            "post_process", context=context, attributes=attributes, record_exception=False, set_status_on_exception=False
        ) as span:
            try:
                yield span
            except BaseException as exc:
                _mark_error(span, exc)
                raise


def end_span(span: Any, error: BaseException | None = None, **attributes: Any) -> None:
    """End a span started by ``fetch_span`` (None: nothing to do)."""
    if span is None:
        return
    if attributes:
        span.set_attributes(attributes)
    if error is not None:
        _mark_error(span, error)
    span.end()


def _mark_error(span: Any, exc: BaseException) -> None:
    from opentelemetry.trace import Status, StatusCode

    span.record_exception(exc)
    span.set_status(Status(StatusCode.ERROR, f"{type(exc).__name__}: {exc}"))
