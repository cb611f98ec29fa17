# Two commands matter: `make demo` (run it all locally) and `make test` (the whole suite).
PYTHON ?= python3
VENV := .venv
BIN := $(VENV)/bin
STAMP := $(VENV)/.installed
DEMO_USERS ?= 2000
PORT ?= 8000
EMBEDDED_REDIS_PORT ?= 6399

.PHONY: install test lint demo clean client client-check

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

# The TypeScript client (clients/typescript/): the API's schema and the types generated from it,
# both committed so a diff shows what an API change does to a frontend. Needs node and npm.
CLIENT := clients/typescript

$(CLIENT)/node_modules/.package-lock.json: $(CLIENT)/package-lock.json
	cd $(CLIENT) && npm ci --no-audit --no-fund

client: install $(CLIENT)/node_modules/.package-lock.json
	$(BIN)/python manage.py spectacular --validate --fail-on-warn --file $(CLIENT)/openapi.yaml
	cd $(CLIENT) && npm run --silent generate

# CI: the committed schema and types are what the server generates now, and the walkthrough
# type-checks against them (a breaking API change fails here, or in the walkthrough's types).
client-check: install $(CLIENT)/node_modules/.package-lock.json
	@fresh=$$(mktemp -d) && trap 'rm -rf "$$fresh"' EXIT && \
	$(BIN)/python manage.py spectacular --validate --fail-on-warn --file "$$fresh/openapi.yaml" && \
	(cd $(CLIENT) && npx --no-install openapi-typescript "$$fresh/openapi.yaml" --output "$$fresh/schema.d.ts" >/dev/null) && \
	diff -u $(CLIENT)/openapi.yaml "$$fresh/openapi.yaml" && diff -u $(CLIENT)/src/schema.d.ts "$$fresh/schema.d.ts" \
	|| { echo "The API changed: run 'make client' and commit $(CLIENT)/ (openapi.yaml, src/schema.d.ts)."; exit 1; }
	cd $(CLIENT) && npm run --silent check

clean:
	rm -rf $(VENV) var .pytest_cache .mypy_cache .ruff_cache $(CLIENT)/node_modules $(CLIENT)/dist
