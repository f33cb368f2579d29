#!/usr/bin/env bash
# Installs what is missing, builds Ferry (release preset) and runs the
# quickstart on the embedded default (SQLite + a local folder).
set -euo pipefail
cd "$(dirname "$0")/.."
scripts/setup.sh
exec examples/quickstart/run.sh
