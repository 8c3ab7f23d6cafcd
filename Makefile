# Short targets; each creates .venv on first use. See README.md.
PYTHON ?= python3
VENV := .venv
BIN := $(VENV)/bin
STAMP := $(VENV)/.installed
# checkov pins an old boto3, so it lives in a venv of its own.
CHECKOV_VENV := .venv-checkov
CHECKOV := $(CHECKOV_VENV)/bin/checkov
LINT_OUT := cdk.out/lint
export JSII_SILENCE_WARNING_END_OF_LIFE_NODE_VERSION := 20
export CDK_DISABLE_CLI_TELEMETRY := true

.PHONY: help install test unit lint synth demo bench deploy destroy clean

help:
	@echo "make demo     run the whole pipeline offline on the sample dataset"
	@echo "make test     run the whole test suite (no AWS account; includes a cdk synth with the pinned CLI)"
	@echo "make lint     ruff, mypy, cfn-lint and cdk-nag/checkov findings"
	@echo "make synth    synthesize the CloudFormation templates into cdk.out/ (no AWS account needed)"
	@echo "make bench    convert+validate vs the notebook, handler cold starts, profiling 100,000 invocation logs"
	@echo "make deploy   cdk deploy with the CLI pinned in package.json (needs AWS credentials)"
	@echo "make destroy  cdk destroy the pipeline (the data bucket is retained)"

$(STAMP): requirements.txt requirements-dev.txt pyproject.toml
	test -x $(BIN)/python || $(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install --quiet --disable-pip-version-check -r requirements-dev.txt
	$(BIN)/python -m pip install --quiet --disable-pip-version-check --no-deps -e .
	touch $(STAMP)

install: $(STAMP)

# The suite runs `cdk synth` once with the pinned CLI (tests/infrastructure/test_infra_bundling.py).
test: $(STAMP) node_modules/.bin/cdk
	$(BIN)/python -m pytest -n 2 --dist loadfile
	$(MAKE) --no-print-directory lint

unit: $(STAMP)
	$(BIN)/python -m pytest tests/unit

$(CHECKOV):
	$(PYTHON) -m venv $(CHECKOV_VENV)
	$(CHECKOV_VENV)/bin/python -m pip install --quiet --disable-pip-version-check checkov==3.3.30

lint: $(STAMP) $(CHECKOV)
	$(BIN)/ruff check .
	$(BIN)/mypy
	@# Templates as they deploy (cdk-nag runs inside this synth and fails it on an unacknowledged finding).
	rm -rf $(LINT_OUT)
	$(BIN)/python -c "from stacks.app_builder import SKIP_BUNDLING, build_app; build_app(SKIP_BUNDLING, outdir='$(LINT_OUT)')[0].synth()"
	$(BIN)/cfn-lint --ignore-checks W3005 -- $(LINT_OUT)/*.template.json
	$(CHECKOV) --quiet --compact --skip-download --framework cloudformation -d $(LINT_OUT)

synth: $(STAMP)
	$(BIN)/python app.py

demo: $(STAMP)
	$(BIN)/distill local-run samples/support-tickets.jsonl --provision --job-hours 2

bench: $(STAMP)
	$(BIN)/python bench/bench_convert.py
	$(BIN)/python bench/bench_cold_start.py
	$(BIN)/python bench/bench_invocation_logs.py

# The version is locked in package-lock.json; npm ci refuses a lock that disagrees with package.json.
node_modules/.bin/cdk: package.json package-lock.json
	npm ci --no-audit --no-fund --silent
	touch $@

deploy: $(STAMP) node_modules/.bin/cdk
	PATH="$(CURDIR)/$(BIN):$$PATH" node_modules/.bin/cdk deploy --all --no-notices

destroy: $(STAMP) node_modules/.bin/cdk
	PATH="$(CURDIR)/$(BIN):$$PATH" node_modules/.bin/cdk destroy --all --no-notices

clean:
	rm -rf cdk.out .pytest_cache .mypy_cache .ruff_cache .bench
