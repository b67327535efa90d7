# The newcomer's two commands: `make run` and `make test`. Everything else is theirs.
SHELL := /bin/bash
VENV := .venv
PYTHON := $(VENV)/bin/python
FLASK := $(VENV)/bin/flask --app app
# Re-install when the project's dependencies change.
INSTALLED := $(VENV)/.installed-$(shell cksum pyproject.toml | cut -d' ' -f1)
PYTEST_WORKERS ?= 2

.PHONY: run test smoke install db demo worker bench vendor screenshots clean

$(VENV)/bin/python:
	@command -v python3.11 >/dev/null && python3.11 -m venv $(VENV) || python3 -m venv $(VENV)

$(INSTALLED): $(VENV)/bin/python pyproject.toml
	$(PYTHON) -m pip install --quiet --upgrade pip
	$(PYTHON) -m pip install --quiet -e '.[test]'
	rm -f $(VENV)/.installed-*
	touch $@

install: $(INSTALLED)

## A signing key for local use, made once (production sets DIVIDEND_SECRET_KEY instead).
instance/secret_key: | $(VENV)/bin/python
	@mkdir -p instance
	@$(PYTHON) -c 'import secrets; print(secrets.token_hex(32))' > $@
	@chmod 600 $@

db: install instance/secret_key
	$(FLASK) db upgrade

demo: db
	$(FLASK) demo --if-empty

## Migrate, load demo data, start localstripe, the job worker and the web app.
run: demo
	@bash scripts/run-dev.sh

worker: install instance/secret_key
	$(FLASK) worker

## Every test: on SQLite, then on PostgreSQL when DIVIDEND_TEST_DATABASE_URL is set.
test: install
	@bash scripts/install-chromium.sh
	$(VENV)/bin/pytest -n $(PYTEST_WORKERS) --dist loadfile -q
	@if [ -n "$$DIVIDEND_TEST_DATABASE_URL" ]; then \
	  echo "== again on PostgreSQL ($$DIVIDEND_TEST_DATABASE_URL) =="; \
	  DIVIDEND_TEST_BACKEND=postgresql $(VENV)/bin/pytest -n $(PYTEST_WORKERS) --dist loadfile -q -m "not e2e"; \
	fi

## The production shape on PostgreSQL and Redis (DIVIDEND_SMOKE_DATABASE_URL, DIVIDEND_SMOKE_REDIS_URL):
## gunicorn, the Redis worker, one purchase through localstripe, `ledger check` (scripts/smoke-production.sh).
smoke: install
	@bash scripts/smoke-production.sh

bench: install
	$(PYTHON) bench/import.py

vendor:
	bash scripts/refresh-vendor.sh

## The README's pictures: run the four journeys in chromium, saving their main pages (1280x800
## PNG viewports) into docs/screenshots/; each must stay under 300 KB.
screenshots: install
	@bash scripts/install-chromium.sh
	rm -f docs/screenshots/*.png
	DIVIDEND_SCREENSHOTS_MAIN=1 $(VENV)/bin/pytest -q -n 0 -p no:randomly tests/e2e/test_journeys.py --screenshots docs/screenshots
	@big="$$(find docs/screenshots -name '*.png' -size +300k)"; \
	  if [ -n "$$big" ]; then echo "over 300 KB: $$big" >&2; exit 1; fi
	@ls -s docs/screenshots

clean:
	rm -rf $(VENV) instance *.egg-info
