# lifthouse: the two commands of the README are `make demo` and `make test`.
# Both create the pinned virtual environment on first use (`make setup`).

PYTHON ?= python3
VENV   := .venv
BIN    := $(VENV)/bin
STAMP  := $(VENV)/.installed
export DBT_SEND_ANONYMOUS_USAGE_STATS := false
export DO_NOT_TRACK := 1
export PATH := $(CURDIR)/$(BIN):$(PATH)

.PHONY: setup setup-spark demo test test-spark test-fast bench bench-scale clean-warehouse

setup: $(STAMP)

$(STAMP): requirements.txt constraints.txt pyproject.toml
	$(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install --quiet --upgrade pip
	$(BIN)/python -m pip install --quiet -r requirements.txt -c constraints.txt
	$(BIN)/python -m pip install --quiet --no-deps -e .
	touch $(STAMP)

## Optional Spark engine (docs/spark.md): its own venv, .venv-spark, with the pins of
## requirements.txt except pandas, plus pinned pyspark, dbt-spark[session] and pandas 2 (pyspark
## is tested against pandas 2), and a Java runtime when none is present. `.venv` stays
## DuckDB-only with pandas 3: a DuckDB run's bytes never depend on whether Spark was installed.
SPARK_VENV  := .venv-spark
SPARK_BIN   := $(SPARK_VENV)/bin
SPARK_STAMP := $(SPARK_VENV)/.installed
setup-spark: $(SPARK_STAMP)

$(SPARK_STAMP): requirements.txt requirements-spark.txt constraints-spark.txt pyproject.toml
	@command -v java >/dev/null 2>&1 || { echo "no java: installing openjdk-17-jre-headless"; \
		apt-get install -y openjdk-17-jre-headless; }
	$(PYTHON) -m venv $(SPARK_VENV)
	$(SPARK_BIN)/python -m pip install --quiet --upgrade pip
	sed '/^pandas==/d' requirements.txt > $(SPARK_VENV)/requirements-duckdb.txt
	$(SPARK_BIN)/python -m pip install --quiet -r $(SPARK_VENV)/requirements-duckdb.txt \
		-r requirements-spark.txt -c constraints-spark.txt
	$(SPARK_BIN)/python -m pip install --quiet --no-deps -e .
	touch $(SPARK_STAMP)

## Main job on the embedded default data: generate the sample market, run Milestone D on it.
demo: $(STAMP)
	$(BIN)/lifthouse demo

## Every test: pytest (Python units, dbt build + dbt tests on generated data, real data when present).
test: $(STAMP)
	$(BIN)/python -m pytest

## Spark vs DuckDB parity (docs/spark.md): real data on local[2], the sample on a loopback cluster.
test-spark: $(SPARK_STAMP)
	$(SPARK_BIN)/python -m pytest -m spark

## Benchmarks (timings and memory), not part of `make test`; docs/benchmarks.md.
## `make bench` includes the 20 x 365 run and the 40 x 365 spill run (BENCH_SCALE=0: without);
## `make bench-scale` runs only those two. The scale markets are generated once into
## BENCH_CACHE (outside the repository) and reused.
BENCH_CACHE ?= $(HOME)/.cache/lifthouse-bench
BENCH_SCALE ?= 1
bench: $(STAMP)
	$(BIN)/python -m lifthouse.run.bench --cache $(BENCH_CACHE) $(if $(filter 1,$(BENCH_SCALE)),--scale --spill)

bench-scale: $(STAMP)
	$(BIN)/python -m lifthouse.run.bench --cache $(BENCH_CACHE) --only-scale --scale --spill

clean-warehouse:
	rm -rf warehouse target
