#!/usr/bin/env bash
# Serving benchmark: `ferry serve` vs MLServer (mlserver-xgboost) vs a constant
# Beast server (the transport floor), same XGBoost model, same V2 JSON body,
# same wrk load, one server at a time on 127.0.0.1. See README.md.
#
# Usage: bench/serving/run.sh
#
# Env:
#   BENCH_DURATION        seconds per measured run (default 5)
#   BENCH_REPEATS         measured runs per point, the median reported (default 3)
#   BENCH_WARMUP          seconds of wrk warm-up before each point (default 2)
#   BENCH_CONCURRENCY     connections, comma/space separated (default "1,8,64")
#   BENCH_COLD_REPEATS    spawns per server for the cold-start median (default 3)
#   BENCH_SERVERS         rows to run (default all): ferry-batching,
#                         ferry-partitioned,ferry-nobatch,
#                         mlserver-default,mlserver-workers,const_server,
#                         const_server-partitioned
#   BENCH_SKIP_MLSERVER=1 drop the MLServer rows (and skip building its venv)
#   BENCH_MLSERVER_WORKERS  parallel_workers of the tuned MLServer row (default 2)
#   BENCH_MLSERVER_OMP_THREADS  OMP_NUM_THREADS of the tuned MLServer row (default 1)
#   FERRY_BIN             default build/release/apps/ferry/ferry; the ferry rows
#                         are skipped, with a notice, when it has no `serve`
#   FERRY_ARGS            extra `ferry serve` flags for both ferry rows
#                         (e.g. "--workers 2 --instances 1 --model-threads 1")
#   FERRY_BATCHING_ARGS   extra flags for the ferry-batching row
#   FERRY_NOBATCH_ARGS    extra flags for the ferry-nobatch row (default none:
#                         its config.pbtxt has no dynamic_batching block)
#   BENCH_FERRY_QUEUE_DELAY_US  max_queue_delay_microseconds in the batching
#                         row's config.pbtxt (default 0: batch what is queued)
#   BENCH_FERRY_INSTANCES instance_group count in both ferry configs (default 2:
#                         one model instance per core, each I/O thread runs
#                         its own requests inline)
#   BENCH_JSON            also write the raw figures to this file
#
# Whole run with defaults: about 5 min (5 servers x 3 points x 12 s, plus starts).
set -euo pipefail

readonly here="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)"
readonly repo_root="$(cd "${here}/../.." && pwd)"
readonly out="${repo_root}/build/bench-serving"
readonly ferry_bin="${FERRY_BIN:-${repo_root}/build/release/apps/ferry/ferry}"
mkdir -p "${out}"

command -v wrk >/dev/null || { echo "bench: wrk not found (apt-get install wrk)" >&2; exit 2; }

servers="${BENCH_SERVERS:-ferry-batching,ferry-partitioned,ferry-nobatch,mlserver-default,mlserver-workers,const_server,const_server-partitioned}"
drop() { servers="$(echo "${servers}" | tr ',' '\n' | { grep -v -- "^$1" || true; } | paste -sd, -)"; }

# 1. The transport floor: built once, rebuilt when its source changes.
const_bin="${out}/const_server"
if [[ ",${servers}," == *",const_server"* ]]; then
  if [[ ! -x "${const_bin}" || "${here}/const_server.cc" -nt "${const_bin}" ]]; then
    echo "bench: building ${const_bin}" >&2
    g++ -std=c++20 -O2 -pthread "${here}/const_server.cc" -o "${const_bin}.tmp"
    mv "${const_bin}.tmp" "${const_bin}"
  fi
fi

# 2. The MLServer venv also trains the model (its xgboost is the one MLServer
#    serves with). With BENCH_SKIP_MLSERVER=1 it is still needed for training.
if [[ "${BENCH_SKIP_MLSERVER:-0}" == "1" ]]; then
  drop mlserver
fi
venv="$("${repo_root}/scripts/venv.sh" mlserver "${here}/requirements-mlserver.txt")"

# 3. The model, both layouts, the request body: rebuilt every run (a few
#    seconds; fixed seed, so the same model each time).
model_dir="${out}/model"
"${venv}/bin/python" "${here}/make_model.py" --out "${model_dir}" \
  --queue-delay-us "${BENCH_FERRY_QUEUE_DELAY_US:-0}" \
  --instances "${BENCH_FERRY_INSTANCES:-2}" >&2

# 4. Ferry rows only when the binary has the `serve` subcommand.
if [[ ",${servers}," == *",ferry"* ]]; then
  if [[ ! -x "${ferry_bin}" ]]; then
    echo "bench: ${ferry_bin} not built; skipping the ferry rows" >&2
    drop ferry
  elif ! timeout 20 "${ferry_bin}" serve --help 2>&1 | grep -q -- '--model-repository'; then
    # An older binary prints the top-level help (exit 0) for an unknown
    # subcommand, hence the look for one of serve's own flags.
    echo "bench: ${ferry_bin} has no 'serve' subcommand ('ferry serve --help' lists no --model-repository); skipping the ferry rows" >&2
    drop ferry
  fi
fi
if [[ -z "${servers}" ]]; then
  echo "bench: no server left to run" >&2
  exit 2
fi

nobatch_args="${FERRY_NOBATCH_ARGS:-}"

echo "bench: servers=${servers} duration=${BENCH_DURATION:-5}s x ${BENCH_REPEATS:-3} concurrency=${BENCH_CONCURRENCY:-1,8,64}" >&2
args=(
  --model-dir "${model_dir}" --work-dir "${out}/run"
  --servers "${servers}"
  --concurrency "${BENCH_CONCURRENCY:-1,8,64}"
  --duration "${BENCH_DURATION:-5}" --repeats "${BENCH_REPEATS:-3}" --warmup "${BENCH_WARMUP:-2}"
  --cold-repeats "${BENCH_COLD_REPEATS:-3}"
  --ferry-bin "${ferry_bin}"
  # `--opt=value`: the values start with "--", which argparse would take for options.
  "--ferry-args=${FERRY_ARGS:-}"
  "--ferry-batching-args=${FERRY_BATCHING_ARGS:-}"
  "--ferry-nobatch-args=${nobatch_args}"
  --mlserver-bin "${venv}/bin/mlserver"
  --mlserver-workers "${BENCH_MLSERVER_WORKERS:-2}"
  --mlserver-omp-threads "${BENCH_MLSERVER_OMP_THREADS:-1}"
  --const-bin "${const_bin}"
  --lua "${here}/infer.lua"
)
if [[ -n "${BENCH_JSON:-}" ]]; then
  args+=(--json "${BENCH_JSON}")
fi
# Stdlib only: the system python3 keeps the driver out of the peer's venv.
exec python3 "${here}/bench.py" "${args[@]}"
