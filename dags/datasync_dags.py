"""Airflow DAGs of datasync, built from the config ($DATASYNC_CONFIG, default include/datasync.yaml).

One DAG per enabled table and schedule (datasync__{table}__{mass|daily|hourly}) plus
datasync__recovery, datasync__purge and datasync__health. Bad config entries are left out
and reported by datasync_config_check.py; DATASYNC_STRICT_CONFIG=1 fails this file instead.
"""

from datasync.airflow.dag_factory import build_dags

build_dags(__file__)
