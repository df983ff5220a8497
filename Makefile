# Two commands on a fresh machine (python3 and make only):
#   make demo   the main job: sandbox seeded with a demo org, plan, apply, plan again
#   make test   ruff, mypy --strict, workflow checks, pytest
PYTHON ?= python3
VENV   := .venv
BIN    := $(VENV)/bin

.PHONY: demo test lint typecheck check-workflows pytest bench clean

$(BIN)/python:
	$(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install --quiet --upgrade pip

$(VENV)/.installed: $(BIN)/python pyproject.toml
	$(BIN)/python -m pip install --quiet -e .
	touch $@

$(VENV)/.installed-test: $(VENV)/.installed
	$(BIN)/python -m pip install --quiet -e '.[test]'
	touch $@

demo: $(VENV)/.installed
	$(BIN)/reconciler demo

lint: $(VENV)/.installed-test
	$(BIN)/ruff check reconciler scim_sandbox tests bench
	$(BIN)/ruff format --check reconciler scim_sandbox tests bench

typecheck: $(VENV)/.installed-test
	$(BIN)/mypy reconciler scim_sandbox

# Both run offline: check-jsonschema's schema is vendored, zizmor --offline skips
# the audits that query GitHub. zizmor exits non-zero on any finding.
# examples/multi-org/ is the several-orgs recipe (matrix per org): checked the same way.
check-workflows: $(VENV)/.installed-test
	$(BIN)/check-jsonschema --builtin-schema vendor.github-workflows .github/workflows/*.yml \
		examples/multi-org/.github/workflows/*.yml
	$(BIN)/check-jsonschema --builtin-schema vendor.github-actions action.yml
	$(BIN)/zizmor --offline .github/workflows action.yml examples/multi-org/.github/workflows

pytest: $(VENV)/.installed-test
	$(BIN)/pytest -q

test: lint typecheck check-workflows pytest

bench: $(VENV)/.installed-test
	$(BIN)/python bench/run.py

clean:
	rm -rf $(VENV) .pytest_cache .mypy_cache .ruff_cache build *.egg-info
