.PHONY: setup demo test unit lint bench chaos clean

VENV := .venv
PY := $(VENV)/bin/python

setup:
	@bash scripts/setup.sh

demo: setup
	$(VENV)/bin/plantroom demo

# servers and clients the test suite starts or drives, from Debian's packages
TEST_PACKAGES := postgresql mbpoll socat chromium docker-compose poppler-utils zbar-tools fonts-droid-fallback

test:
	@PLANTROOM_EXTRA_PACKAGES="$(TEST_PACKAGES)" bash scripts/setup.sh
	$(VENV)/bin/lint-imports --no-cache
	$(PY) -m pytest tests

unit: setup
	$(PY) -m pytest -m "not integration" tests

lint: setup
	$(VENV)/bin/ruff check .
	$(VENV)/bin/ruff format --check .
	$(VENV)/bin/mypy
	$(VENV)/bin/lint-imports --no-cache

bench: setup
	$(PY) -m benchmarks

# kill -9 each process in turn under load and account for every reading (docs/reliability.md)
chaos: setup
	$(PY) -m chaos --write

clean:
	rm -rf var .pytest_cache .mypy_cache .ruff_cache
