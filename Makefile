# Two commands for a fresh machine with only python3: `make demo` and `make test`.
# Both create the environment (.venv, from the pinned requirements.lock) on first use.
PYTHON ?= python3
# Some environments switch off bytecode caching; every dbt, Airflow and step subprocess would
# then recompile its imports (twice the CPU). Let Python cache them.
export PYTHONDONTWRITEBYTECODE =
VENV   := .venv
BIN    := $(VENV)/bin
TEST_WORKERS ?= 2  # pytest-xdist workers; the tests are mostly single-threaded dbt/Python
STAMP  := $(VENV)/.installed-$(shell cat requirements.lock pyproject.toml | cksum | cut -d' ' -f1)

.PHONY: install demo test bench lint lock clean

install: $(STAMP)

$(STAMP): requirements.lock pyproject.toml
	@test -x $(BIN)/python || $(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install --quiet --disable-pip-version-check uv
	$(BIN)/uv pip install --quiet --python $(BIN)/python -r requirements.lock
	$(BIN)/uv pip install --quiet --python $(BIN)/python --no-deps -e .
	@rm -f $(VENV)/.installed-* && touch $@

demo: install
	$(BIN)/revwh demo

test: install
	bash scripts/ensure-services.sh
	bash scripts/ensure-browser.sh
	$(BIN)/python -m pytest -n $(TEST_WORKERS) --dist loadgroup $(PYTEST_ARGS)

bench: install
	$(BIN)/python -m benchmarks.run $(BENCH_ARGS)

lint: install
	$(BIN)/ruff check revwh forecasting dags tests benchmarks

# Re-pin after changing dependencies in pyproject.toml (no index URLs are recorded).
lock: install
	$(BIN)/uv pip compile pyproject.toml --extra dev --python-version 3.11 \
		--no-header --no-annotate -o requirements.lock

clean:
	rm -rf .revwh dbt_project/target dbt_project/logs
