# The README's two commands: `make run` and `make test`. Both create .venv on first use.
PYTHON ?= python3
VENV := .venv
BIN := $(VENV)/bin

.PHONY: run postgres test lint bench clean

$(BIN)/python:
	$(PYTHON) -m venv $(VENV)
	$(BIN)/pip install --quiet --upgrade pip

$(VENV)/.runtime: requirements.txt | $(BIN)/python
	$(BIN)/pip install --quiet -r requirements.txt
	touch $@

$(VENV)/.postgres: requirements.txt requirements-postgres.txt | $(BIN)/python
	$(BIN)/pip install --quiet -r requirements-postgres.txt
	touch $(VENV)/.runtime $@

$(VENV)/.dev: requirements.txt requirements-postgres.txt requirements-dev.txt | $(BIN)/python
	$(BIN)/pip install --quiet -r requirements-dev.txt
	touch $(VENV)/.runtime $(VENV)/.postgres $@

run: $(VENV)/.runtime
	$(BIN)/python fenfa.py

# The PostgreSQL driver, for a database_url postgresql://... (README: "More than one machine").
postgres: $(VENV)/.postgres

test: $(VENV)/.dev
	$(BIN)/python -m pytest

lint: $(VENV)/.dev
	$(BIN)/ruff check .

bench: $(VENV)/.dev
	$(BIN)/python bench/parse.py
	$(BIN)/python bench/transfer.py
	$(BIN)/python bench/downloads.py
	$(BIN)/python bench/databases.py
	$(BIN)/python bench/load.py
	$(BIN)/python bench/stats.py
	$(BIN)/python bench/export.py
	$(BIN)/python bench/footprint.py
	$(BIN)/python bench/uploader.py

clean:
	rm -rf $(VENV)
