# The two commands of the README: `make demo` runs the main job, `make test` the tests.
.PHONY: setup demo test airflow bench

setup:
	@./scripts/setup

demo: setup
	uv run datasync demo

test: setup
	uv run pytest -q

airflow: setup
	./scripts/airflow-standalone

bench: setup
	uv run python bench/run.py
