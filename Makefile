# lifthouse: the two commands of the README are `make demo` and `make test`.
# Both create the pinned virtual environment on first use (`make setup`).

PYTHON ?= python3
VENV   := .venv
BIN    := $(VENV)/bin
STAMP  := $(VENV)/.installed
export DBT_SEND_ANONYMOUS_USAGE_STATS := false
export DO_NOT_TRACK := 1
export PATH := $(CURDIR)/$(BIN):$(PATH)

.PHONY: setup demo test test-fast bench clean-warehouse

setup: $(STAMP)

$(STAMP): requirements.txt constraints.txt pyproject.toml
	$(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install --quiet --upgrade pip
	$(BIN)/python -m pip install --quiet -r requirements.txt -c constraints.txt
	$(BIN)/python -m pip install --quiet --no-deps -e .
	touch $(STAMP)

## Main job on the embedded default data: generate the sample market, run Milestone D on it.
demo: $(STAMP)
	$(BIN)/lifthouse demo

## Every test: pytest (Python units, dbt build + dbt tests on generated data, real data when present).
test: $(STAMP)
	$(BIN)/python -m pytest

## Benchmarks (timings and memory), not part of `make test`.
bench: $(STAMP)
	$(BIN)/python -m lifthouse.run.bench

clean-warehouse:
	rm -rf warehouse target
