"""StatsD for sites without an OpenTelemetry collector: the same points, tags kept.

Airflow's own StatsD client prefixes every name with ``airflow.`` and, in plain
StatsD, drops tags. This bridge sends the DataSync instruments under their own
names, one UDP datagram per point, with ``table`` and ``type`` in the tag style
Airflow's ``[metrics]`` settings select:

- Datadog (``statsd_datadog_enabled``): ``sync.operations.started:1|c|#table:F4111,type:Daily``
  (plus ``statsd_datadog_tags``);
- InfluxDB / Telegraf (``statsd_influxdb_enabled``): ``sync.operations.started,table=F4111,type=Daily:1|c``;
- plain StatsD (no tags): the tags become name parts, ``sync.operations.started.F4111.Daily:1|c``.

Counters are ``c``, histograms ``h`` (seconds stay seconds). UDP never blocks a sync:
send errors are ignored, as StatsD clients do.
"""

from __future__ import annotations

import re
import socket
from dataclasses import dataclass

DATADOG = "datadog"
INFLUXDB = "influxdb"
PLAIN = "plain"

_UNSAFE = re.compile(r"[^A-Za-z0-9_\-.]")


@dataclass(frozen=True)
class StatsdSettings:
    host: str = "localhost"
    port: int = 8125
    tag_style: str = PLAIN  # datadog | influxdb | plain
    constant_tags: tuple[tuple[str, str], ...] = ()  # statsd_datadog_tags, e.g. (("env", "prod"),)
    prefix: str = ""


class StatsdBridge:
    """Sends counters and histogram points to a StatsD server over UDP."""

    def __init__(self, settings: StatsdSettings):
        self.settings = settings
        self._address = (settings.host, settings.port)
        self._socket = socket.socket(socket.AF_INET6 if ":" in settings.host else socket.AF_INET, socket.SOCK_DGRAM)
        self._socket.setblocking(False)

    def count(self, name: str, value: float, tags: dict[str, str]) -> None:
        self._send(name, value, "c", tags)

    def histogram(self, name: str, value: float, tags: dict[str, str]) -> None:
        self._send(name, value, "h", tags)

    def line(self, name: str, value: float, kind: str, tags: dict[str, str]) -> str:
        """The StatsD datagram of one point in the configured tag style."""
        name = f"{self.settings.prefix}.{name}" if self.settings.prefix else name
        number = f"{value:g}" if isinstance(value, float) else str(value)
        all_tags = [*self.settings.constant_tags, *tags.items()]
        style = self.settings.tag_style
        if style == DATADOG:
            rendered = ",".join(f"{_clean(k)}:{_clean(v)}" for k, v in all_tags)
            return f"{name}:{number}|{kind}" + (f"|#{rendered}" if rendered else "")
        if style == INFLUXDB:
            rendered = "".join(f",{_clean(k)}={_clean(v)}" for k, v in all_tags)
            return f"{name}{rendered}:{number}|{kind}"
        parts = "".join(f".{_clean(v)}" for _, v in tags.items())
        return f"{name}{parts}:{number}|{kind}"

    def close(self) -> None:
        self._socket.close()

    def _send(self, name: str, value: float, kind: str, tags: dict[str, str]) -> None:
        try:
            self._socket.sendto(self.line(name, value, kind, tags).encode(), self._address)
        except OSError:  # a StatsD outage must never fail a sync
            pass


def _clean(text: str) -> str:
    """Tag keys and values without StatsD's separators (``:|#,=`` and spaces)."""
    return _UNSAFE.sub("_", str(text))
