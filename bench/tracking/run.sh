#!/usr/bin/env bash
# Tracking benchmark: `mlflow server` (from the pinned mlflow3 venv) and then
# `ferry server`, each on a fresh temp dir with a SQLite backend, under the same
# client load. Prints a Markdown table with both figures and the ratio
# Ferry / MLflow. See load.py for what each figure measures.
#
# Usage: bench/tracking/run.sh [load.py args...]
#
# Env:
#   FERRY_BIN        default build/release/apps/ferry/ferry
#   BENCH_SERVERS    default "mlflow,ferry" (ferry is dropped, with a notice,
#                    when its binary does not exist yet)
#   BENCH_RUNS       runs for the search phase (default 100000)
#   BENCH_POPULATE_BUDGET_SECONDS  populate time cap per server (default 900);
#                    a server that does not reach BENCH_RUNS in it is measured
#                    at the count it reached, and so is the next server
#   BENCH_PHASE_SECONDS  duration of each ingestion phase (default 20)
#   BENCH_SEARCH_QUERIES / BENCH_SEARCH_BUDGET_SECONDS  (default 200 / 120)
#   BENCH_JSON       also write raw figures to this file
#
# Whole run with defaults: ~20-25 min, almost all of it MLflow populating runs.
set -euo pipefail

readonly here="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)"
readonly repo_root="$(cd "${here}/../.." && pwd)"
export FERRY_BIN="${FERRY_BIN:-${repo_root}/build/release/apps/ferry/ferry}"
export MLFLOW_DISABLE_TELEMETRY=true DO_NOT_TRACK=true

venv="$("${repo_root}/scripts/venv.sh" mlflow3 "${repo_root}/tests/compat/requirements-mlflow3.txt")"

servers="${BENCH_SERVERS:-mlflow,ferry}"
if [[ ",${servers}," == *",ferry,"* && ! -x "${FERRY_BIN}" ]]; then
  echo "bench: ${FERRY_BIN} not built; benchmarking MLflow only (Ferry column n/a)" >&2
  servers="$(echo "${servers}" | tr ',' '\n' | grep -vx ferry | paste -sd, -)"
fi

echo "bench: command: BENCH_SERVERS=${servers} BENCH_RUNS=${BENCH_RUNS:-100000} $0 $*" >&2
exec "${venv}/bin/python" "${here}/load.py" --servers "${servers}" --ferry-bin "${FERRY_BIN}" "$@"
