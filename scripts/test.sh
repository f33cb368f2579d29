#!/usr/bin/env bash
# Installs what is missing, builds, and runs every test:
#   1. C++ unit, conformance, integration and fuzz-corpus tests (dev preset:
#      ASan + UBSan) through ctest;
#   2. compat tests with the real mlflow client (latest 3.x and last 2.x, each
#      in its own virtualenv) against the release `ferry` binary, including
#      the kill -9 crash test;
#   3. serving compat tests: tritonclient (HTTP + gRPC), perf_analyzer and the
#      mlflow client against `ferry serve` + `ferry server`.
set -euo pipefail
cd "$(dirname "$0")/.."

scripts/setup.sh --with-tests

echo "== C++ tests (dev preset: ASan + UBSan)"
ctest --preset dev --output-on-failure -j 2

echo "== compat tests (real mlflow clients against build/release/apps/ferry/ferry)"
tests/compat/run.sh

echo "== serving compat tests (tritonclient, perf_analyzer, mlflow against ferry serve)"
tests/compat/serving/run.sh

echo "== all tests passed"
