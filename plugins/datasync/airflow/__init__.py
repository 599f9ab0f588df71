"""The Airflow layer: connections through hooks, operators, the DAG factory, alerts, setup."""
