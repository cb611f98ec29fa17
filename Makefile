# Two commands matter: `make demo` (run it all locally) and `make test` (the whole suite).
PYTHON ?= python3
VENV := .venv
BIN := $(VENV)/bin
STAMP := $(VENV)/.installed
DEMO_USERS ?= 2000
PORT ?= 8000
EMBEDDED_REDIS_PORT ?= 6399

.PHONY: install test lint demo clean

$(STAMP): requirements.txt requirements-dev.txt
	@$(PYTHON) -c 'import sys; sys.exit(0 if sys.version_info >= (3, 11) else "Python 3.11+ is required")'
	test -x $(BIN)/python || $(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install --quiet --upgrade pip
	$(BIN)/python -m pip install --quiet -r requirements-dev.txt
	touch $(STAMP)

install: $(STAMP)

test: install
	$(BIN)/pytest

lint: install
	$(BIN)/ruff check .
	$(BIN)/ruff format --check .
	$(BIN)/mypy .
	$(BIN)/lint-imports

# Web server, one RQ worker with its scheduler, the cron scheduler, and (with no REDIS_URL)
# the embedded Redis they share. Ctrl-C stops them all.
demo: install
	$(BIN)/python manage.py migrate --noinput
	$(BIN)/python manage.py seed_demo --users $(DEMO_USERS)
	@bash -c 'trap "trap - INT TERM EXIT; kill 0" INT TERM EXIT; \
	  if [ -z "$$REDIS_URL" ]; then \
	    $(BIN)/python -m config.embedded_redis --port $(EMBEDDED_REDIS_PORT) & \
	    $(BIN)/python -m config.embedded_redis --port $(EMBEDDED_REDIS_PORT) --wait-ready || exit 1; \
	  fi; \
	  $(BIN)/python manage.py rqworker --with-scheduler default & \
	  $(BIN)/python manage.py rqcron config.cron & \
	  $(BIN)/python manage.py runserver 127.0.0.1:$(PORT) & \
	  sleep 2; \
	  echo; echo "Admin: http://127.0.0.1:$(PORT)/admin/  (admin@example.com, password printed above by seed_demo)"; \
	  echo "API docs: http://127.0.0.1:$(PORT)/api/docs/   Ctrl-C stops everything."; echo; \
	  wait'

clean:
	rm -rf $(VENV) var .pytest_cache .mypy_cache .ruff_cache
