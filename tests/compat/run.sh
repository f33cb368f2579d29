#!/usr/bin/env bash
# MLflow client compatibility suite: runs tests/compat once per MLflow major
# version, each in its own venv built by scripts/venv.sh from the pinned
# requirements files next to this script.
#
# Usage: tests/compat/run.sh [pytest args...]
#
# Env:
#   FERRY_BIN        server binary (default build/release/apps/ferry/ferry)
#   COMPAT_SERVER    ferry (default) | mlflow — run the same suite against the
#                    real `mlflow server` from the venv (validates the tests)
#   COMPAT_VERSIONS  which venvs to use (default "mlflow3 mlflow2")
#   COMPAT_RECORD    directory: record every request the client sends (through
#                    a logging proxy) to DIR/<version>.tsv and print the
#                    endpoint table to DIR/<version>-endpoints.md
#   COMPAT_CRASH_ON_MLFLOW=1  also run test_crash.py against real MLflow
set -euo pipefail

readonly here="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)"
readonly repo_root="$(cd "${here}/../.." && pwd)"
export COMPAT_SERVER="${COMPAT_SERVER:-ferry}"
export FERRY_BIN="${FERRY_BIN:-${repo_root}/build/release/apps/ferry/ferry}"
export MLFLOW_DISABLE_TELEMETRY=true DO_NOT_TRACK=true

if [[ "${COMPAT_SERVER}" == "ferry" && ! -x "${FERRY_BIN}" ]]; then
  echo "compat: ${FERRY_BIN} not found; build it (scripts/setup.sh), set FERRY_BIN," >&2
  echo "        or run against real MLflow with COMPAT_SERVER=mlflow" >&2
  exit 2
fi

status=0
summary=()
for version in ${COMPAT_VERSIONS:-mlflow3 mlflow2}; do
  venv="$("${repo_root}/scripts/venv.sh" "${version}" "${here}/requirements-${version}.txt")"
  echo "=== compat: ${version} client against ${COMPAT_SERVER} server ==="
  record_args=()
  if [[ -n "${COMPAT_RECORD:-}" ]]; then
    mkdir -p "${COMPAT_RECORD}"
    record_file="$(cd "${COMPAT_RECORD}" && pwd)/${version}.tsv"
    : >"${record_file}"
    record_args=(env "COMPAT_RECORD=${record_file}")
  fi
  set +e
  (cd "${here}" && "${record_args[@]}" "${venv}/bin/python" -m pytest "$@")
  rc=$?
  set -e
  summary+=("${version}: pytest exit ${rc}")
  if [[ ${rc} -ne 0 ]]; then
    status=1
  fi
  if [[ -n "${COMPAT_RECORD:-}" ]]; then
    "${venv}/bin/python" "${here}/endpoints.py" "${record_file}" >"${record_file%.tsv}-endpoints.md"
    echo "compat: endpoint table in ${record_file%.tsv}-endpoints.md"
  fi
done

printf '%s\n' "${summary[@]}"
exit "${status}"
