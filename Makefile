# One command each: `make demo` (install, set up SQLite, load demo data) and `make test`.
VENV ?= .venv
PYTHON ?= python3
# The PostgreSQL half of the suite; set it empty to run on SQLite only.
WORKFLOW_APP_TEST_POSTGRES_URL ?= postgresql+psycopg://postgres@127.0.0.1:5432/test
export WORKFLOW_APP_TEST_POSTGRES_URL
# pytest-xdist workers (each with a PostgreSQL database of its own); 0 runs the suite in one process.
TEST_WORKERS ?= auto

$(VENV)/.installed: pyproject.toml
	$(PYTHON) -m venv $(VENV)
	$(VENV)/bin/pip install --quiet --upgrade pip
	$(VENV)/bin/pip install --quiet -e ".[dev]"
	touch $@

# axe-core, which the browser tests inject into pages, as package-lock.json pins it (npm: apt-get install nodejs
# npm); also bpmnlint (tests/test_bpmnlint.py). Without npm those checks skip, saying so.
node_modules/.package-lock.json: package.json package-lock.json
	@if command -v npm >/dev/null; then npm ci --no-audit --no-fund; \
	else echo "npm is missing (apt-get install nodejs npm): the browser tests will skip their axe-core checks"; fi

.PHONY: install demo test bench
install: $(VENV)/.installed node_modules/.package-lock.json

PORT ?= 8000

demo: install
	$(VENV)/bin/workflow-app demo
	$(VENV)/bin/workflow-app serve --port $(PORT)

test: install
	$(VENV)/bin/ruff check .
	$(VENV)/bin/workflow-app check
	$(VENV)/bin/pytest -n $(TEST_WORKERS)

bench: install
	$(VENV)/bin/python bench/lifecycle.py
	$(VENV)/bin/python bench/inbox.py
	$(VENV)/bin/python bench/sweep.py
	$(VENV)/bin/python bench/reports.py
	$(VENV)/bin/python bench/admin.py
	$(VENV)/bin/python bench/dispatch.py
	$(VENV)/bin/python bench/deploy.py
