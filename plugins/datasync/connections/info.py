"""Connection definitions read without Airflow: AIRFLOW_CONN_* URIs and JSON, the Airflow way.

Airflow resolves ``AIRFLOW_CONN_{ID}`` before its metadata database, and that
variable is what most CLI and container users set. Parsing it here follows
``airflow.models.Connection`` (URI and JSON forms, ``postgresql`` normalised to
``postgres``, ``__extra__`` or query-string extras) so a command that only
needs such a connection never pays for importing Airflow.
"""

from __future__ import annotations

import json
import os
from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any
from urllib.parse import parse_qsl, unquote, urlsplit

from datasync.core.errors import ConfigError

ENV_PREFIX = "AIRFLOW_CONN_"
_EXTRA_KEY = "__extra__"


@dataclass(frozen=True)
class ConnectionInfo:
    """What a connection says: type, address, credentials, database and extras."""

    conn_id: str
    conn_type: str
    host: str | None = None
    port: int | None = None
    login: str | None = None
    password: str | None = None
    schema: str | None = None
    extra: Mapping[str, Any] = field(default_factory=dict)

    @property
    def sqlite_path(self) -> str:
        """``sqlite:////abs/path.db`` puts the path in schema, the Airflow UI puts it in host."""
        return self.host or self.schema or ":memory:"

    @property
    def where(self) -> str:
        """Host or file, for messages (never credentials)."""
        return self.host or self.schema or ""

    @classmethod
    def from_attributes(cls, conn: Any) -> ConnectionInfo:
        """From any object with Airflow Connection attributes (``airflow.sdk.Connection`` included)."""
        extra = getattr(conn, "extra_dejson", None)
        if extra is None:
            extra = _extra_dict(getattr(conn, "extra", None), conn.conn_id)
        return cls(
            conn_id=conn.conn_id,
            conn_type=normalize_type(conn.conn_type or ""),
            host=conn.host or None,
            port=int(conn.port) if conn.port else None,
            login=conn.login or None,
            password=conn.password or None,
            schema=conn.schema or None,
            extra=dict(extra),
        )


def normalize_type(conn_type: str) -> str:
    """Airflow's spelling of a connection type (``postgresql`` → ``postgres``, ``-`` → ``_``)."""
    conn_type = conn_type.strip().lower()
    if conn_type == "postgresql":
        return "postgres"
    return conn_type.replace("-", "_")


def _extra_dict(extra: Any, conn_id: str) -> dict[str, Any]:
    if not extra:
        return {}
    if isinstance(extra, Mapping):
        return dict(extra)
    try:
        value = json.loads(extra)
    except json.JSONDecodeError as exc:
        raise ConfigError([f"connection {conn_id!r}: its extra is not JSON ({exc})"]) from None
    if not isinstance(value, dict):
        raise ConfigError([f"connection {conn_id!r}: its extra must be a JSON object"])
    return value


def parse_uri(conn_id: str, uri: str) -> ConnectionInfo:
    """An Airflow connection URI (``postgres://user:pw@host:5432/db?sslmode=require``)."""
    if uri.count("://") > 2 or "://" not in uri:
        raise ConfigError([f"connection {conn_id!r}: {_redacted(uri)!r} is not a connection URI"])
    scheme = urlsplit(uri).scheme
    with_protocol = uri.count("://") == 2
    rest = uri.replace(f"{scheme}://", "" if with_protocol else "//", 1)
    parts = urlsplit(rest)
    host = _hostname(parts)
    if host and with_protocol:
        host = f"{parts.scheme}://{host}"
    extra: dict[str, Any] = {}
    if parts.query:
        query = dict(parse_qsl(parts.query, keep_blank_values=True))
        if _EXTRA_KEY in query:
            extra = _extra_dict(query[_EXTRA_KEY], conn_id)
        else:
            for key, value in query.items():
                try:
                    extra[key] = json.loads(value) if value else value
                except json.JSONDecodeError:
                    extra[key] = value
    try:
        port = parts.port
    except ValueError as exc:
        raise ConfigError([f"connection {conn_id!r}: bad port ({exc})"]) from None
    schema = parts.path[1:]
    return ConnectionInfo(
        conn_id=conn_id,
        conn_type=normalize_type(scheme),
        host=host or None,
        port=port,
        login=unquote(parts.username) if parts.username else None,
        password=unquote(parts.password) if parts.password else None,
        schema=unquote(schema) if schema else None,
        extra=extra,
    )


def _hostname(parts: Any) -> str:
    """Host as Airflow reads it: a host holding a path (a file name) keeps its case and slashes."""
    host = unquote(parts.hostname or "")
    if "/" in host:
        host = parts.netloc.rsplit("@", 1)[-1]
        if ":" in host:
            host = host.split(":", 1)[0]
        host = unquote(host)
    return host


def parse_json(conn_id: str, text: str) -> ConnectionInfo:
    """The JSON form: ``{"conn_type": "postgres", "host": ..., "extra": {...}}``."""
    try:
        data = json.loads(text)
    except json.JSONDecodeError as exc:
        raise ConfigError([f"connection {conn_id!r}: malformed JSON ({exc})"]) from None
    if not isinstance(data, dict) or not data.get("conn_type"):
        raise ConfigError([f"connection {conn_id!r}: the JSON form needs at least a conn_type"])
    port = data.get("port")
    try:
        port = int(port) if port not in (None, "") else None
    except (TypeError, ValueError):
        raise ConfigError([f"connection {conn_id!r}: port {port!r} is not a number"]) from None
    return ConnectionInfo(
        conn_id=conn_id,
        conn_type=normalize_type(str(data["conn_type"])),
        host=data.get("host") or None,
        port=port,
        login=data.get("login") or None,
        password=data.get("password") or None,
        schema=data.get("schema") or None,
        extra=_extra_dict(data.get("extra"), conn_id),
    )


def from_environment(conn_id: str, environ: Mapping[str, str] | None = None) -> ConnectionInfo | None:
    """``AIRFLOW_CONN_{CONN_ID}`` parsed (URI or JSON), or None when the variable is not set."""
    value = (environ if environ is not None else os.environ).get(ENV_PREFIX + conn_id.upper())
    if value is None:
        return None
    value = value.strip()
    return parse_json(conn_id, value) if value.startswith("{") else parse_uri(conn_id, value)


def _redacted(uri: str) -> str:
    parts = urlsplit(uri)
    return uri.replace(parts.password, "***") if parts.password else uri


def secrets_backend_configured(environ: Mapping[str, str] | None = None) -> bool:
    """Whether Airflow has a secrets backend (it is asked before AIRFLOW_CONN_* variables).

    Read from AIRFLOW__SECRETS__BACKEND, else ``[secrets] backend`` of $AIRFLOW_HOME/airflow.cfg.
    """
    import configparser
    from pathlib import Path

    env = environ if environ is not None else os.environ
    if "AIRFLOW__SECRETS__BACKEND" in env:
        return bool(env["AIRFLOW__SECRETS__BACKEND"].strip())
    home = Path(env.get("AIRFLOW_HOME") or Path.home() / "airflow")
    parser = configparser.ConfigParser(interpolation=None)
    try:
        parser.read(env.get("AIRFLOW_CONFIG") or home / "airflow.cfg")
    except configparser.Error:
        return True  # a file only Airflow can read: let Airflow decide
    return bool(parser.get("secrets", "backend", fallback="").strip())
