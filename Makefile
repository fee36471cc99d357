# Two commands set everything up on a fresh machine with Python 3.11 and make:
#   make run   installs into .venv and starts the service with the demo region
#   make test  installs into .venv and runs every test
PYTHON ?= python3
VENV := .venv
BIN := $(VENV)/bin
STAMP := $(VENV)/.installed-stamp

.PHONY: install run demo test lint bench clean messages

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
	$(BIN)/python benchmarks/owned.py
	$(BIN)/python benchmarks/unseen.py
	$(BIN)/python benchmarks/limits.py
	$(BIN)/python benchmarks/simulation.py
	$(BIN)/python benchmarks/outcomes.py
	$(BIN)/python benchmarks/pages.py

# The pages' message catalogues: extract from templates and code, update nl and en, compile.
messages: install
	$(BIN)/pybabel extract -F service/web/babel.cfg -k N_ -k gettext -k ngettext:1,2 \
		--no-location --sort-output -o service/web/locale/messages.pot service/web
	$(BIN)/pybabel update -i service/web/locale/messages.pot -d service/web/locale -D messages \
		--ignore-obsolete --width 100
	$(BIN)/pybabel compile -d service/web/locale -D messages --statistics

clean:
	rm -rf $(VENV) .pytest_cache .hypothesis .ruff_cache
