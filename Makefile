# Two commands set everything up on a fresh machine with Python 3.11 and make:
#   make run   installs into .venv and starts the service with the demo region
#   make test  installs into .venv and runs every test
PYTHON ?= python3
VENV := .venv
BIN := $(VENV)/bin
STAMP := $(VENV)/.installed-stamp

.PHONY: install run demo test lint bench clean

$(STAMP): pyproject.toml
	$(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install --quiet -e '.[dev]'
	touch $(STAMP)

install: $(STAMP)

run: install
	$(BIN)/python -m service serve

demo: install
	$(BIN)/allocator demo

test: install
	$(BIN)/ruff check .
	$(BIN)/pytest -q

lint: install
	$(BIN)/ruff check .
	$(BIN)/ruff format --check .

bench: install
	$(BIN)/python benchmarks/run.py
	$(BIN)/python benchmarks/run.py --scales region,province --rules-12-15 --out benchmarks/RESULTS-rules-12-15.md
	$(BIN)/python benchmarks/scaling.py
	$(BIN)/python benchmarks/simulation.py

clean:
	rm -rf $(VENV) .pytest_cache .hypothesis .ruff_cache
