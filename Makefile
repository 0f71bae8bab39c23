# `make serve` and `make test` do the whole set-up on a fresh machine with Python 3.11+ and pip.
PYTHON ?= python3
VENV ?= .venv
STAMP := $(VENV)/.installed-$(shell cksum pyproject.toml | cut -d' ' -f1)

.PHONY: serve test test-sqlite test-postgresql bench soak clean

$(STAMP): pyproject.toml
	$(PYTHON) -m venv $(VENV)
	$(VENV)/bin/python -m pip install -q --upgrade pip
	$(VENV)/bin/python -m pip install -q -e '.[test]'
	rm -f $(VENV)/.installed-*
	touch $(STAMP)

serve: $(STAMP)
	$(VENV)/bin/ndoto serve

# The whole suite on each database: SQLite, then a throwaway PostgreSQL (Debian's server,
# installed with apt-get when missing, started in a temp dir by tests/postgres.py).
test: test-sqlite test-postgresql

test-sqlite: $(STAMP)
	$(VENV)/bin/python -m pytest -q

test-postgresql: $(STAMP)
	NDOTO_TEST_DATABASE=postgresql $(VENV)/bin/python -m pytest -q

bench: $(STAMP)
	$(VENV)/bin/python benchmarks/run.py

# Ten minutes of mixed load on one `ndoto serve`, a restart halfway, then an exact reconciliation.
soak: $(STAMP)
	$(VENV)/bin/python benchmarks/soak.py

clean:
	rm -rf $(VENV)
