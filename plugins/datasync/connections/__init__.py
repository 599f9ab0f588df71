"""Connections without Airflow: definitions (AIRFLOW_CONN_* URIs/JSON), drivers, dialect dispatch."""

from datasync.connections.connector import Connector, DirectConnector
from datasync.connections.info import ConnectionInfo, from_environment
from datasync.connections.open import SOURCES, TARGETS, open_source, open_target, target_class

__all__ = [
    "SOURCES",
    "TARGETS",
    "ConnectionInfo",
    "Connector",
    "DirectConnector",
    "from_environment",
    "open_source",
    "open_target",
    "target_class",
]
