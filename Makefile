PY ?= python3
VENV ?= .venv
BIN := $(VENV)/bin
EXAMPLES ?= examples
OUT ?= build

.PHONY: run test lint bench clean

$(BIN)/sloforge: pyproject.toml
	$(PY) -m venv $(VENV)
	$(BIN)/pip install -q --upgrade pip
	$(BIN)/pip install -q -e '.[dev]'
	touch $@

DATA ?= $(EXAMPLES)/data/kubernetesexecution.om.gz

## make run: install into .venv, generate the full bundle for examples/, then report on the shipped data
run: $(BIN)/sloforge
	$(BIN)/sloforge validate $(EXAMPLES)
	$(BIN)/sloforge generate $(EXAMPLES) -o $(OUT)
	@echo "bundle written to $(OUT)/ ($$(find $(OUT) -type f | wc -l) files)"
	$(BIN)/sloforge report $(EXAMPLES)/kubernetesexecution.yaml --data $(DATA) --html $(OUT)/report.html
	$(BIN)/sloforge backtest $(EXAMPLES)/kubernetesexecution.yaml --data $(DATA)

## make test: install dev deps and run the whole suite
test: $(BIN)/sloforge
	$(BIN)/ruff check src tests bench
	$(BIN)/pytest -q

bench: $(BIN)/sloforge
	$(BIN)/python bench/rule_cost.py
	$(BIN)/python bench/instrument.py
	$(BIN)/python bench/backtest.py
	$(BIN)/python bench/report.py

clean:
	rm -rf $(OUT) .pytest_cache .ruff_cache
