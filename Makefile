# The two commands of the README: `make run` (set-up + demo data + dashboard) and `make test`
# (set-up + the whole suite). Everything they need is installed from here.
VENV ?= .venv
PY := $(VENV)/bin/python
BALISE := $(VENV)/bin/balise

.PHONY: setup run test lint format schema bench demo

$(VENV)/.installed: pyproject.toml
	python3 -m venv $(VENV)
	$(VENV)/bin/pip install -q --upgrade pip
	$(VENV)/bin/pip install -q -e '.[dev]'
	touch $@

setup: $(VENV)/.installed
	@scripts/system-deps.sh

# The sandbox operator (a local, fictitious Dovecot; package sandbox/, installed with the `dev`
# extra by `setup`) makes provisioning and tests work out of the box: the dashboard's `dovecot`
# backend writes into its passwd-files (one per account) and its BAL passwords are sealed with
# its own key unless BALISE_SECRET_KEY is set. `balise sandbox activity` watches demo mailboxes
# on it in every department of the region, delivers fictitious mail and polls (idempotent: a
# second `make run` counts nothing twice), so the Activité page has figures everywhere.
# The dashboard's port: `make run PORT=8600` when 8501 is taken.
PORT ?= 8501
SANDBOX_DIR := $${BALISE_SANDBOX_DIR:-$${BALISE_DATA_DIR:-$(CURDIR)/data}/sandbox}
SANDBOX_KEY := BALISE_SECRET_KEY=$${BALISE_SECRET_KEY:-$$(cat $(SANDBOX_DIR)/secret.key)}

run: setup
	$(BALISE) demo
	$(BALISE) sandbox --background
	$(SANDBOX_KEY) $(BALISE) sandbox activity
	BALISE_PROVISION_BACKEND=$${BALISE_PROVISION_BACKEND:-dovecot} \
	BALISE_DOVECOT_PASSWD_FILE=$${BALISE_DOVECOT_PASSWD_FILE:-$(SANDBOX_DIR)/users.d/%u} \
	BALISE_DOVECOT_CONFIG=$${BALISE_DOVECOT_CONFIG:-$(SANDBOX_DIR)/dovecot.conf} \
	$(SANDBOX_KEY) $(BALISE) serve --port $(PORT)

demo: setup
	$(BALISE) demo

test: setup
	$(VENV)/bin/ruff check .
	$(VENV)/bin/ruff format --check .
	$(VENV)/bin/lint-imports
	$(PY) scripts/audit_dependencies.py
	$(VENV)/bin/pytest

lint:
	$(VENV)/bin/ruff check --fix .
	$(VENV)/bin/ruff format .

# Regenerate the initial migration from the tables of balise/models/ (until the first release).
schema:
	$(PY) -m balise.migrations.make_initial
	$(VENV)/bin/ruff format balise/migrations/versions

# Every bench of bench/, found by name (a new bench runs without anyone adding it here).
bench: setup
	@set -e; for bench in bench/*.py; do echo "== $$bench"; $(PY) $$bench; done
