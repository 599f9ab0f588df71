"""Reports bad datasync config entries as an Airflow import error of this file (DAG-free).

The DAGs of the good entries are built by datasync_dags.py and keep running; the error names
the config file, the table and the field. Nothing is raised when the config is clean.
"""

from datasync.airflow.dag_factory import raise_config_problems

raise_config_problems(__file__)
