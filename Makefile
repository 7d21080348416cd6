# msvit-mm entry points. PYTHON=/path/to/python uses an existing environment instead of .venv/.
SHELL := /bin/bash
PY := $(if $(PYTHON),$(PYTHON),.venv/bin/python)

.PHONY: setup test demo demo-cls
setup:
	@bash scripts/setup_env.sh

test: setup
	$(PY) -m pytest tests

demo: setup
	$(PY) tools/demo.py

demo-cls: setup
	$(PY) tools/demo_cls.py
