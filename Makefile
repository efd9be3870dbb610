# Two entry points on a fresh machine: `make plan` (offline plan of dev) and `make test`.
VENV ?= .venv
PY := $(VENV)/bin/python
STACK ?= dev

SCAN_VENV ?= .venv-scan

.PHONY: plan test lint format diagram diagram-check config-files bench validate-argo trigger-check canary-check doc-pictures scan clean

$(VENV)/.installed: requirements.txt requirements-dev.txt policy/requirements.txt runtime/requirements.txt runtime/pyproject.toml
	python3 -m venv $(VENV)
	$(PY) -m pip install --quiet --disable-pip-version-check -r requirements-dev.txt
	touch $@

plan: $(VENV)/.installed  ## offline plan of $(STACK): nothing is deployed
	$(PY) -m offline.plan $(STACK)

WORKERS ?= auto
test: $(VENV)/.installed  ## the whole test suite, two workers per core (tests/scheduling.py; WORKERS=0: one process)
	$(PY) -m pytest -n $(WORKERS)

diagram: $(VENV)/.installed  ## maintainers: the picture README embeds (needs Graphviz for the SVG)
	$(PY) -m offline.plan prod --diagram docs/stack-prod.mmd --diagram docs/stack-prod.svg > /dev/null

diagram-check: $(VENV)/.installed  ## CI: the picture renders through Graphviz with every node
	$(PY) -m offline.picture prod rendered/stack-prod.svg

doc-pictures: $(VENV)/.installed  ## docs/images: a release's timeline and the release dashboard, generated
	$(PY) -m offline.doc_pictures

config-files: $(VENV)/.installed  ## Pulumi.yaml's config block and docs/config.md's key table, from railyard/config/model.py
	$(PY) -m offline.config_files

bench: $(VENV)/.installed  ## runtime and Kanban bridge on loopback, release critical path and train size, the offline plan against its import floor, the whole suite (prints numbers)
	AWS_ACCESS_KEY_ID=bench AWS_SECRET_ACCESS_KEY=bench AWS_DEFAULT_REGION=us-east-1 \
		$(PY) bench/runtime_bench.py
	$(PY) bench/release_bench.py
	$(PY) bench/kanban_bench.py
	$(PY) bench/report_bench.py
	$(PY) bench/plan_bench.py
	$(PY) bench/suite_bench.py

VALIDATE_ARGO ?= ../shared/tools/validate-argo
validate-argo: $(VENV)/.installed  ## every Argo object of dev and prod, and the Rollout examples, against the upstream CRDs
	$(PY) -m offline.argo_objects dev rendered/dev-argo.yaml
	$(PY) -m offline.argo_objects prod rendered/prod-argo.yaml
	$(PY) $(VALIDATE_ARGO) rendered/dev-argo.yaml rendered/prod-argo.yaml \
		docs/examples/rollout.yaml docs/examples/analysis-template.yaml

ARGO_EXPR ?= ../shared/tools/argo-expr
trigger-check: $(VENV)/.installed  ## the release triggers on sample GitHub pushes, judged by argo-server's expression engine
	$(PY) -m offline.trigger_check --argo-expr $(ARGO_EXPR)

canary-check:  ## the PWA canary's script in Node.js, against a stand-in browser and CloudWatch
	node tests/canary/check.js

$(SCAN_VENV)/.installed: requirements-scan.txt
	python3 -m venv $(SCAN_VENV)
	$(SCAN_VENV)/bin/pip install --quiet --disable-pip-version-check -r requirements-scan.txt
	touch $@

# Checkov's Kubernetes and Argo Workflows checks on every object of dev and prod, offline
# (--skip-download: no platform calls); any failed check fails the target. A check that
# cannot apply is skipped on the object itself, with its reason (docs/kubernetes.md).
scan: $(VENV)/.installed $(SCAN_VENV)/.installed  ## Checkov on the rendered Kubernetes and Argo objects
	$(PY) -m offline.k8s_objects dev rendered/dev
	$(PY) -m offline.k8s_objects prod rendered/prod
	$(SCAN_VENV)/bin/checkov --directory rendered/dev --directory rendered/prod \
		--framework kubernetes argo_workflows --skip-download --compact --quiet

lint: $(VENV)/.installed
	$(VENV)/bin/ruff check .
	$(VENV)/bin/ruff format --check .

format: $(VENV)/.installed
	$(VENV)/bin/ruff format .
	$(VENV)/bin/ruff check --fix .

clean:
	rm -rf $(VENV) $(SCAN_VENV) .pytest_cache .ruff_cache rendered
