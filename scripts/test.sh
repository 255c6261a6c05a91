#!/usr/bin/env bash
# README command 2: set everything up and run the whole test suite.
# Installs what the tests need (Python packages; as root also Debian's chromium, Japanese
# fonts and PostgreSQL when missing), runs ruff and mypy, starts a throwaway PostgreSQL on
# loopback, runs pytest.
set -euo pipefail
root="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
cd "$root"
bash scripts/bootstrap.sh dev
# Lint before the slow part: ruff (pyflakes, pycodestyle, isort, bugbear, pyupgrade) and mypy
# (strict in knowledge/ and handoff/), both configured in pyproject.toml. Any finding fails the run.
if [ "${RISTAPO_SKIP_LINT:-0}" != "1" ]; then
  lint=0
  .venv/bin/ruff check --output-format concise . || lint=1
  .venv/bin/mypy || lint=1
  if [ "$lint" != "0" ]; then
    echo "test.sh: lint failed; reproduce with: .venv/bin/ruff check . && .venv/bin/mypy  (safe autofixes: .venv/bin/ruff check --fix .)" >&2
    exit 1
  fi
fi
if [ -f scripts/system-deps.sh ]; then
  bash scripts/system-deps.sh || echo "test.sh: some system packages could not be installed; the tests that need them will say so"
fi
pg_env=""
if [ -f scripts/pg-test-cluster.sh ] && [ "${RISTAPO_SKIP_POSTGRES:-0}" != "1" ]; then
  pg_env="$(bash scripts/pg-test-cluster.sh start || true)"
fi
status=0
env $pg_env .venv/bin/python -m pytest -q -p no:cacheprovider "$@" || status=$?
if [ -n "$pg_env" ] && [ -f scripts/pg-test-cluster.sh ]; then bash scripts/pg-test-cluster.sh stop >/dev/null 2>&1 || true; fi
exit $status
