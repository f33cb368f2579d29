#!/usr/bin/env bash
# Serving compatibility suite: real third-party clients (tritonclient HTTP and
# gRPC, Triton's perf_analyzer, the MLflow client) against `ferry serve`.
# Builds/uses the `serving` venv (scripts/venv.sh) from requirements.txt here.
#
# Usage: tests/compat/serving/run.sh [pytest args...]
#
# Env:
#   FERRY_BIN  binary under test (default build/release/apps/ferry/ferry);
#              `ferry serve` for inference, `ferry server` for the registry
#
# Needs libb64-0d (Debian; scripts/setup.sh installs it) for perf_analyzer.
set -euo pipefail

readonly here="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)"
readonly repo_root="$(cd "${here}/../../.." && pwd)"
export FERRY_BIN="${FERRY_BIN:-${repo_root}/build/release/apps/ferry/ferry}"
export MLFLOW_DISABLE_TELEMETRY=true DO_NOT_TRACK=true
# The registry tests start `ferry server` through tests/compat/servers.py.
export COMPAT_SERVER=ferry

if [[ ! -x "${FERRY_BIN}" ]]; then
  echo "serving compat: ${FERRY_BIN} not found; build it (scripts/setup.sh) or set FERRY_BIN" >&2
  exit 2
fi
if ! "${FERRY_BIN}" serve --help >/dev/null 2>&1; then
  echo "serving compat: ${FERRY_BIN} has no 'serve' subcommand; rebuild it" >&2
  exit 2
fi

venv="$("${repo_root}/scripts/venv.sh" serving "${here}/requirements.txt")"
python_dir="$("${venv}/bin/python" -c 'import sysconfig; print(sysconfig.get_paths()["purelib"])')"
# perf_analyzer (from the tritonclient wheel) links libcudart.so.12 even on CPU.
export LD_LIBRARY_PATH="${python_dir}/nvidia/cuda_runtime/lib${LD_LIBRARY_PATH:+:${LD_LIBRARY_PATH}}"

echo "=== serving compat: $("${FERRY_BIN}" --version 2>/dev/null || echo ferry) ==="
cd "${here}"
exec "${venv}/bin/python" -m pytest "$@"
