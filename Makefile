# Task runner. `make test` is the one command CI runs (see .ci/run and README.md).
.PHONY: help install up down status demo test lint typecheck faults faults-cluster bench schemas

VENV ?= .venv
BIN := $(VENV)/bin

help:  ## list targets
	@grep -E '^[a-z-]+:.*##' $(MAKEFILE_LIST) | sed 's/:.*## /\t/'

$(BIN)/tradelane: pyproject.toml constraints.txt
	python3 -m venv $(VENV)
	$(BIN)/python -m pip install -q -c constraints.txt -e '.[dev]'
	touch $@

install: $(BIN)/tradelane  ## create .venv with the pinned dependencies

up: install  ## start Mosquitto, Kafka, InfluxDB on loopback (installs/builds what is missing)
	$(BIN)/tradelane services up

down: install  ## stop the services started by `make up`
	$(BIN)/tradelane services down

status: install  ## report the services
	$(BIN)/tradelane services status

demo: install  ## run the pipeline on embedded brokers (or running services)
	$(BIN)/tradelane demo

test:  ## everything CI runs: install, services up, ruff, mypy, pytest
	bash scripts/test.sh

lint: install  ## ruff
	$(BIN)/ruff check . && $(BIN)/ruff format --check .

typecheck: install  ## mypy --strict
	$(BIN)/mypy

faults: install  ## the full fault-injection suite on the running services (about 12 min)
	$(BIN)/tradelane faults --profile full --json .tradelane/faults/full.json

faults-cluster: install  ## the long broker-kill run: its own 3-node Kafka cluster, 4 node SIGKILLs (about 12 min)
	$(BIN)/tradelane faults --profile cluster-full --kafka-brokers 3 --json .tradelane/faults/cluster-full.json

bench: install  ## the end-to-end pipeline benchmark on the running services
	$(BIN)/tradelane bench pipeline --json .tradelane/bench/pipeline.json

schemas: install  ## regenerate docs/schemas from the contracts
	$(BIN)/tradelane schemas export docs/schemas
