# Opsbench: `make run` (the workbench) and `make test` (the suite) are the two commands.
# Both build their own virtualenv from nothing (Python 3.11 + pip + the package registries).

PYTHON ?= python3.11
VENV   ?= .venv
BIN    := $(VENV)/bin
STAMP  := $(VENV)/.installed
export GX_ANALYTICS_ENABLED := False
export HF_HUB_OFFLINE := 1
export DAGSTER_DISABLE_TELEMETRY := 1

.DEFAULT_GOAL := help
.PHONY: help venv run demo test test-fast lint typecheck imports defs check benchmark benchmark-memory benchmark-triage benchmark-imap clean

help: ## list the targets
	@grep -E '^[a-z-]+:.*## ' $(MAKEFILE_LIST) | awk -F':.*## ' '{printf "  make %-17s %s\n", $$1, $$2}'

$(STAMP): pyproject.toml constraints.txt
	@command -v $(PYTHON) >/dev/null || { echo "needs $(PYTHON) on PATH" >&2; exit 1; }
	$(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install --quiet --upgrade pip
	$(BIN)/python -m pip install --quiet -c constraints.txt -e '.[dev]'
	$(BIN)/python -m ipykernel install --sys-prefix --name opsbench --display-name "Opsbench" >/dev/null
	@touch $@

venv: $(STAMP) ## create or update the virtualenv (.venv) from constraints.txt

run: $(STAMP) ## the live workbench: UI + daemon, local model and embedding servers
	$(BIN)/opsbench run

demo: $(STAMP) ## headless run over samples/inbox on the scripted model; prints the summary
	$(BIN)/opsbench demo --inbox samples/inbox --llm scripted --home .opsbench/demo

test: $(STAMP) ## the whole suite, slow end-to-end tests included (what CI runs)
	scripts/setup-system.sh
	# Two workers, a file each (tests in a file share fixtures); then the end-to-end tests
	# alone, as they time daemons and servers and would race the other worker for the cores.
	$(BIN)/python -m pytest -q -n 2 --dist loadfile --ignore=tests/e2e
	$(BIN)/python -m pytest -q tests/e2e

test-fast: $(STAMP) ## the suite without the slow end-to-end tests
	scripts/setup-system.sh
	$(BIN)/python -m pytest -q -m "not slow"

lint: $(STAMP) ## ruff lint + format check
	$(BIN)/ruff check .
	$(BIN)/ruff format --check opsbench location ops_assets resources sensors

typecheck: $(STAMP) ## mypy over the packages
	$(BIN)/mypy

imports: $(STAMP) ## the one-way layer contract (import-linter)
	$(BIN)/lint-imports

defs: $(STAMP) ## the code location loads (dagster-dg-cli)
	VIRTUAL_ENV=$(abspath $(VENV)) $(BIN)/dg check defs

check: lint typecheck imports defs ## everything a commit should pass besides the tests

benchmark: $(STAMP) ## throughput benchmark (run on purpose, not in CI)
	$(BIN)/python benchmarks/throughput.py

benchmark-memory: $(STAMP) ## memory retrieval at 100k and 1M rows (about 40 min; not in CI)
	$(BIN)/python benchmarks/memory_retrieval.py --rows 100000
	$(BIN)/python benchmarks/memory_retrieval.py --rows 1000000

benchmark-triage: $(STAMP) ## triage: rules, classifier, model, cascade side by side (LLM=local|scripted|none)
	$(BIN)/python benchmarks/triage.py --llm $(or $(LLM),local)

benchmark-imap: $(STAMP) ## IMAP append-to-item latency: daemon polling, then the IDLE watcher (Dovecot; not in CI)
	./scripts/setup-system.sh
	$(BIN)/python benchmarks/imap_latency.py --mode daemon
	$(BIN)/python benchmarks/imap_latency.py --mode idle

clean: ## remove the virtualenv and the default home
	rm -rf $(VENV) .opsbench
