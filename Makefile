# Shortcuts over scripts/ (see CONTRIBUTING.md).
.PHONY: fast check test

# The fast path: lint, format, types, then every test that needs no real service, no browser and is not slow.
fast:
	MOVIEREC_TEST_SERVICES=0 scripts/test -m "not slow and not services and not browser" -q

# The static checks only (what pre-commit runs).
check:
	.venv/bin/ruff check src tests bench
	.venv/bin/ruff format --check src tests bench
	.venv/bin/mypy

# The whole suite, as CI runs it (starts the local services, runs the compose test first).
test:
	scripts/test
