# The README's two commands. Each sets everything up first, so both work on a fresh clone.
.PHONY: setup quickstart test

setup:
	bash scripts/setup.sh

quickstart: setup
	.venv/bin/warble quickstart

test: setup
	.venv/bin/python -m pytest -q
