# SunBid: `make run` starts the platform with demo data; `make test` runs ruff and every test.
VENV   ?= .venv
PY     := $(VENV)/bin/python
FLASK  := $(VENV)/bin/flask --app wsgi
STAMP  := $(VENV)/.installed
HOST   ?= 127.0.0.1
PORT   ?= 5000

.PHONY: run test lint typecheck bench install translations extract seed frontend

$(STAMP): requirements.lock pyproject.toml
	@test -x $(PY) || python3 -m venv $(VENV)
	$(PY) -m pip install -q --disable-pip-version-check -r requirements.lock
	$(PY) -m pip install -q --disable-pip-version-check --no-deps -e .
	@touch $@

install: $(STAMP) translations

translations: $(STAMP)
	@$(VENV)/bin/pybabel compile -f -d translations >/dev/null

run: install
	$(FLASK) db upgrade
	$(FLASK) demo seed
	VENV=$(VENV) HOST=$(HOST) PORT=$(PORT) sh scripts/run-demo.sh

lint: $(STAMP)
	$(VENV)/bin/ruff check .
	$(VENV)/bin/ruff format --check .

# Types: crypto/ and core/ strictly, the rest at mypy's default level ([tool.mypy] in pyproject.toml).
typecheck: $(STAMP)
	$(VENV)/bin/mypy

test: install lint typecheck
	@bash scripts/test-deps.sh
	$(VENV)/bin/pytest $(PYTEST_ARGS)

bench: install
	$(PY) -m bench

# Developers: refresh the message catalogue after changing user-facing strings.
extract: $(STAMP)
	$(VENV)/bin/pybabel extract -F babel.cfg -k _l -k lazy_gettext --no-location --sort-output -o translations/messages.pot .
	$(VENV)/bin/pybabel update -N --no-fuzzy-matching -i translations/messages.pot -d translations

# Developers: rebuild the browser bundles in static/js/bundles/ (committed, so `make run` needs no Node)
# from frontend/src with the versions pinned in frontend/package-lock.json.
frontend:
	cd frontend && npm ci --no-audit --no-fund && npm run build
