# avatarsite — the two commands: `make run` (the site on the embedded default) and `make test`.

PYTHON ?= $(shell command -v python3.11 || command -v python3)
VENV := .venv
BIN := $(VENV)/bin
HOST ?= 127.0.0.1
PORT ?= 8000
SUDO := $(shell [ "$$(id -u)" = 0 ] || echo sudo)

.PHONY: run test test-fast migrations-check lint format system-deps bench clean

$(BIN)/python:
	$(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install --quiet --upgrade pip

$(VENV)/.runtime: $(BIN)/python requirements.txt
	$(BIN)/pip install --quiet -r requirements.txt
	touch $@

$(VENV)/.dev: $(VENV)/.runtime requirements-dev.txt
	$(BIN)/pip install --quiet -r requirements-dev.txt
	touch $@

## run: install, migrate, load demo content, serve web + worker at http://127.0.0.1:8000 (Ctrl-C stops)
run: $(VENV)/.runtime
	$(BIN)/python manage.py migrate --noinput
	$(BIN)/python manage.py load_demo
	$(BIN)/python manage.py serve --host $(HOST) --port $(PORT)

## system-deps: the Debian packages the tests use (Redis, Chromium, PostgreSQL), if missing
system-deps:
	@missing=""; \
	command -v redis-server >/dev/null || missing="$$missing redis-server"; \
	[ -x /usr/bin/chromium ] || missing="$$missing chromium"; \
	command -v chromedriver >/dev/null || missing="$$missing chromium-driver"; \
	ls /usr/lib/postgresql/*/bin/initdb >/dev/null 2>&1 || missing="$$missing postgresql"; \
	if [ -n "$$missing" ]; then \
		echo "installing:$$missing"; \
		$(SUDO) apt-get update -qq && DEBIAN_FRONTEND=noninteractive $(SUDO) apt-get install -y -qq $$missing >/dev/null; \
	fi

## lint: ruff, lint and format check
lint: $(VENV)/.dev
	$(BIN)/ruff check .
	$(BIN)/ruff format --check .

## migrations-check: every model change has its migration (nothing for makemigrations to write; no database file made)
migrations-check: $(VENV)/.dev
	DATABASE_URL=sqlite://:memory: $(BIN)/python manage.py makemigrations --check --dry-run

## test: everything the tests need, then the whole suite on real PostgreSQL, Redis and S3
test: system-deps $(VENV)/.dev lint migrations-check
	$(BIN)/python -m pytest

## test-fast: the fast tier, under a minute: the tests marked `fast`, on SQLite and in-process parts (no service started),
## on two processes (pytest-xdist): one alone takes 80 s since the provider contract suite covers ten adapters
test-fast: $(VENV)/.dev migrations-check
	$(BIN)/python -m pytest --fast -q -p no:cacheprovider -n 2

format: $(VENV)/.dev
	$(BIN)/ruff format .
	$(BIN)/ruff check --fix .

## bench: the benchmarks under bench/ (each prints its figures)
bench: system-deps $(VENV)/.dev
	@command -v wrk >/dev/null || { $(SUDO) apt-get update -qq && DEBIAN_FRONTEND=noninteractive $(SUDO) apt-get install -y -qq wrk >/dev/null; }
	$(BIN)/python -m bench.healthz
	$(BIN)/python -m bench.gallery
	$(BIN)/python -m bench.generation
	$(BIN)/python -m bench.capacity
	$(BIN)/python -m bench.eta
	$(BIN)/python -m bench.local_generator
	$(BIN)/python -m bench.billing
	$(BIN)/python -m bench.faults

clean:
	rm -rf $(VENV) db.sqlite3 db.sqlite3-wal db.sqlite3-shm media staticfiles test-artifacts
