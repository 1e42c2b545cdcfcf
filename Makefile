# Two commands on a fresh machine: `make demo` and `make test`. Both set up .venv first.
PYTHON ?= python3
VENV := .venv
BIN := $(VENV)/bin
STAMP := $(VENV)/.installed
SARIF_SCHEMA := .cache/sarif-schema-2.1.0.json

.PHONY: setup demo test lint generate bench clean golden

setup: $(STAMP) $(SARIF_SCHEMA)

$(STAMP): pyproject.toml runtime/pyproject.toml
	test -x $(BIN)/python || $(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install --quiet --upgrade pip
	$(BIN)/python -m pip install --quiet -e '.[dev]' -e ./runtime
	# pykustomize bundles a real kustomize; its metadata wrongly demands Python 3.14, it runs on 3.11.
	$(BIN)/python -m pip install --quiet 'cffi>=1.17'
	$(BIN)/python -m pip install --quiet --ignore-requires-python --no-deps pykustomize==0.1.4
	touch $@

# The OASIS SARIF 2.1.0 schema, to check our SARIF output offline; npm ships a copy.
$(SARIF_SCHEMA):
	mkdir -p .cache/npm && cd .cache/npm && npm pack --silent @microsoft/jest-sarif@1.0.0-beta.0 >/dev/null
	tar -xzf .cache/npm/microsoft-jest-sarif-1.0.0-beta.0.tgz -C .cache/npm package/lib/schemas/sarif-2.1.0-rtm.5.json
	cp .cache/npm/package/lib/schemas/sarif-2.1.0-rtm.5.json $@

demo: setup
	@echo "== 1. flowpipe validate: every example flow (warnings: settings left to run time)"
	$(BIN)/flowpipe validate flows/
	@echo "== 2. flowpipe compile: Kustomize (base + overlays dev, prod) and Helm, into out/rendered"
	rm -rf out
	$(BIN)/flowpipe compile --out out/rendered
	@echo "== 3. flowpipe graph: the demo flow"
	$(BIN)/flowpipe graph flows/csv-to-sqlite.yaml
	@echo "== 4. flowpipe run: CSV files in examples/data -> SQLite out/trades.db (JSON logs)"
	$(BIN)/flowpipe run flows/csv-to-sqlite.yaml
	@echo "== 5. what landed"
	$(BIN)/python examples/counts.py out/trades.db trades out/csv-to-sqlite.rejected.jsonl

test: setup
	$(BIN)/python -m pytest

lint: setup
	$(BIN)/ruff check .
	$(BIN)/ruff format --check .
	$(BIN)/mypy
	$(BIN)/mypy --ignore-missing-imports runtime/flowpipe_runtime
	$(BIN)/lint-imports
	$(BIN)/python -m flowpipe_compiler.docgen --check
	$(BIN)/flowpipe compile --check

generate: setup
	$(BIN)/python -m flowpipe_compiler.docgen
	$(BIN)/flowpipe compile

bench: setup
	$(BIN)/python benchmarks/run.py $(SUITE)

clean:
	rm -rf $(VENV) .cache .pytest_cache .mypy_cache .ruff_cache .hypothesis

# Rewrite the expected outputs of tests/cases after a deliberate change; review the diff.
golden: setup
	FLOWPIPE_UPDATE_GOLDEN=1 $(BIN)/python -m pytest -q tests/test_cases.py
