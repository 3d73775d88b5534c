# Two commands: `make run` serves the API on the embedded defaults, `make test` passes the
# tests. Both create the virtualenv and install what they need first.

PYTHON ?= python3
VENV ?= .venv
BIN := $(VENV)/bin
HOST ?= 127.0.0.1
PORT ?= 8000

.PHONY: install run createsuperuser manage serve migrate worker test coverage test-postgres lint format typecheck clean bench avatar-cost

$(BIN)/.installed: requirements.txt requirements-dev.txt
	$(PYTHON) -m venv $(VENV)
	$(BIN)/pip install --quiet --disable-pip-version-check -r requirements-dev.txt
	touch $@

install: $(BIN)/.installed

# Local development: DEBUG on, SQLite and the embedded cache, Django's dev server, and
# beside it the task worker that sends mail (printed to the console unless EMAIL_URL is
# set). Ctrl-C stops both; so does the server stopping on its own.
# The rate limits are relaxed so that trying the API by hand does not meet a 429 after
# five logins; a value set in the environment wins, and `make run LIMITS=production`
# keeps the production defaults of config/settings.py. The lockout is never relaxed.
LIMITS ?= development
ifeq ($(LIMITS),development)
run: export RATE_LIMIT_ATTEMPTS ?= 1000
run: export REGISTER_RATE_LIMIT ?= 1000/h
run: export PROFILE_UPDATE_RATE_LIMIT ?= 1000/h
run: export AVATAR_UPLOAD_RATE_LIMIT ?= 1000/h
run: export TOKEN_CREATE_RATE_LIMIT ?= 1000/h
run: LIMITS_NOTE = development rate limits RATE_LIMIT_ATTEMPTS=$$RATE_LIMIT_ATTEMPTS \
	REGISTER_RATE_LIMIT=$$REGISTER_RATE_LIMIT PROFILE_UPDATE_RATE_LIMIT=$$PROFILE_UPDATE_RATE_LIMIT \
	AVATAR_UPLOAD_RATE_LIMIT=$$AVATAR_UPLOAD_RATE_LIMIT TOKEN_CREATE_RATE_LIMIT=$$TOKEN_CREATE_RATE_LIMIT \
	(for the production ones: make run LIMITS=production)
else
run: LIMITS_NOTE = production rate limits (config/settings.py, unless set in the environment)
endif

run: install
	@echo "make run: $(LIMITS_NOTE)"
	DEBUG=$${DEBUG:-true} $(BIN)/python manage.py migrate --noinput
	export DEBUG=$${DEBUG:-true} PUBLIC_URL=$${PUBLIC_URL:-http://$(HOST):$(PORT)}; \
	$(BIN)/python manage.py db_worker & worker=$$!; \
	trap 'kill $$worker 2>/dev/null; wait $$worker 2>/dev/null' EXIT INT TERM; \
	$(BIN)/python manage.py runserver $(HOST):$(PORT)

# The first admin, in the database `make run` uses and with DEBUG as it has it (so no
# SECRET_KEY is needed): prompts for username, email, name and password. Without prompts:
# ARGS=--noinput and the DJANGO_SUPERUSER_* variables (README, Operations).
createsuperuser: install
	DEBUG=$${DEBUG:-true} $(BIN)/python manage.py migrate --noinput --verbosity 0
	DEBUG=$${DEBUG:-true} $(BIN)/python manage.py createsuperuser $(ARGS)

# Any manage.py command, with DEBUG as `make run` has it, after applying the migrations:
# make manage ARGS="prune_tokens --dry-run".
manage: install
	DEBUG=$${DEBUG:-true} $(BIN)/python manage.py migrate --noinput --verbosity 0
	DEBUG=$${DEBUG:-true} $(BIN)/python manage.py $(ARGS)

# Production-style server: deploy/serve.sh, gunicorn with gunicorn.conf.py or granian
# (SERVER=granian); settings from the environment.
# Mail needs a worker as well: `make worker` beside it.
serve: install
	$(BIN)/python manage.py migrate --noinput
	$(BIN)/python manage.py collectstatic --noinput --verbosity 0
	PATH="$(CURDIR)/$(BIN):$$PATH" sh deploy/serve.sh

# The migrations, with DEBUG as `make run` has it (no SECRET_KEY needed on a fresh clone).
migrate: install
	DEBUG=$${DEBUG:-true} $(BIN)/python manage.py migrate --noinput

# The task worker alone (it sends the mails); any number may run, on any host.
worker: install
	$(BIN)/python manage.py db_worker

test: install
	$(BIN)/pytest

# The same suite under coverage (lines and branches of the app; pyproject.toml), then the
# report and the line and branch figures on their own.
coverage: install
	$(BIN)/coverage run -m pytest
	$(BIN)/coverage report
	$(BIN)/coverage json --quiet -o - | $(BIN)/python scripts/coverage_totals.py

# The same suite against the PostgreSQL and Redis on this machine.
test-postgres: install
	DATABASE_URL=$${DATABASE_URL:-postgres://postgres@127.0.0.1:5432/test} \
	REDIS_URL=$${REDIS_URL:-redis://127.0.0.1:6379/0} $(BIN)/pytest

lint: install
	$(BIN)/ruff check .
	$(BIN)/ruff format --check .

format: install
	$(BIN)/ruff check --fix .
	$(BIN)/ruff format .

typecheck: install
	$(BIN)/mypy .

clean:
	rm -rf $(VENV) .pytest_cache .mypy_cache .ruff_cache staticfiles .coverage

# Throughput, latency and memory under gunicorn, driven by wrk (scripts/bench.py).
# PostgreSQL and Redis when DATABASE_URL / REDIS_URL are set, else the embedded defaults.
# PEERS=1 (PostgreSQL only) also measures, in the same rounds, the reference apps of
# scripts/peers/ (stock DRF + simplejwt, FastAPI + asyncpg, a bare Django view), built in a
# virtualenv of their own under ~/.cache/authapi-bench/ (never the project's).
bench: install
	$(BIN)/python scripts/bench.py $(if $(filter-out 0,$(PEERS)),--peers) $(BENCH_ARGS)

# Peak memory and CPU of one avatar upload, for the worst accepted image of each format
# (scripts/avatar_cost.py; no server, no database).
avatar-cost: install
	$(BIN)/python scripts/avatar_cost.py $(AVATAR_COST_ARGS)
