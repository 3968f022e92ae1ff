# The two commands a newcomer needs: `make run` and `make test`.
# Everything else is created on demand: the virtualenv from the pinned
# requirements, the local AWS emulator, the stage's resources.

PYTHON ?= python3
VENV   := .venv
BIN    := $(VENV)/bin
STAMP  := $(VENV)/.installed
PORT   ?= 8000
AWS_PORT ?= 5050
PYTEST_ARGS ?=

.PHONY: run test lint unit functional e2e bench models package policy docs clean

$(STAMP): requirements.txt requirements-vendor.txt requirements-dev.txt
	@$(PYTHON) -c 'import sys; v = sys.version_info[:2]; sys.exit(0 if v in ((3, 12), (3, 13)) else "Python 3.12 or 3.13 is required (Lambda runtime python3.12/3.13); $(PYTHON) is %d.%d. Install one, or run: make PYTHON=python3.12 ..." % v)'
	$(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install --quiet --disable-pip-version-check -r requirements-dev.txt
	@touch $@

run: $(STAMP)
	$(BIN)/python -m stack run --port $(PORT) --aws-port $(AWS_PORT)

lint: $(STAMP)
	$(BIN)/ruff check .

test: lint
	$(BIN)/python -m pytest $(PYTEST_ARGS)

unit functional e2e: $(STAMP)
	$(BIN)/python -m pytest tests/$@ $(PYTEST_ARGS)

bench: $(STAMP)
	$(BIN)/python -m bench

# Rewrites the outputs shown in README.md and docs/ from a real run of every
# example (tests/e2e/test_docs_examples.py); review the diff, then commit it.
docs: $(STAMP)
	DOCS_UPDATE=1 $(BIN)/python -m pytest tests/e2e/test_docs_examples.py -q

# Retrain the default models shipped in chalicelib/prediction/default_models
# (deterministic; about 3 minutes on 2 cores).  Never part of `make test`.
models: $(STAMP)
	$(BIN)/python -m training.train_classifier
	$(BIN)/python -m training.train_detector

# vendor/ from the manylinux wheels pinned in requirements-vendor.txt (cached
# in build/wheels), slimmed; then `chalice package` of the prod stage with
# resources.json merged in: build/package/{deployment.zip,layer-deployment.zip,sam.json}.
package: $(STAMP)
	$(BIN)/python -m stack package

# .chalice/policy-prod.json from the IAM_GRANTS the chalicelib modules declare.
policy: $(STAMP)
	$(BIN)/python -m stack policy

clean:
	rm -rf $(VENV) .pytest_cache .ruff_cache build .chalice/deployments
