#!/usr/bin/env bash
# README command 1: set everything up and start the service with the web chat and console.
# Extra arguments go to `ristapo serve` (e.g. --port 8080). Demo data unless RISTAPO_NO_DEMO=1.
set -euo pipefail
root="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
cd "$root"
bash scripts/bootstrap.sh
mkdir -p var
demo="--demo"
[ "${RISTAPO_NO_DEMO:-0}" = "1" ] && demo=""
exec .venv/bin/ristapo serve $demo "$@"
