#!/usr/bin/env bash
# Quickstart: start `ferry server` on its embedded SQLite store, train a model
# with plain MLflow client code against it, govern its promotion, serve it with
# `ferry serve`, show what was recorded, stop the servers cleanly.
#
# Usage: examples/quickstart/run.sh [train.py args...]
#
# Env:
#   FERRY_BIN        default build/release/apps/ferry/ferry (scripts/setup.sh builds it)
#   FERRY_DATA_DIR   where the database and artifacts go (default ./ferry-data
#                    in the repo root; kept after the run so you can look at it)
#   PORT             default: a free port
#   SERVE_PORT       REST port of `ferry serve` (default: a free port)
#   QUICKSTART_SERVER=mlflow  use the real `mlflow server` from the mlflow3 venv
#                    instead of Ferry (same flags; for comparing the two; the
#                    governance steps are Ferry's and are skipped)
#   QUICKSTART_MODEL registered model name (default quickstart-credit)
#
# After training: register the model, give it a promotion policy (ferry
# models policy set), approve and promote it to @champion, train a
# deliberately worse model and watch its promotion being refused, then show
# the champion's lineage and write its model card (promote.py, ferry CLI).
# Then point @challenger at the worse version, start `ferry serve` on
# models:/<model>@champion with a 90/10 canary to @challenger, and send it a
# burst of Open Inference Protocol V2 requests (query.py).
set -euo pipefail

readonly here="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)"
readonly repo_root="$(cd "${here}/../.." && pwd)"
readonly server_kind="${QUICKSTART_SERVER:-ferry}"
readonly ferry_bin="${FERRY_BIN:-${repo_root}/build/release/apps/ferry/ferry}"
readonly data_dir="$(mkdir -p "${FERRY_DATA_DIR:-${repo_root}/ferry-data}" && cd "${FERRY_DATA_DIR:-${repo_root}/ferry-data}" && pwd)"
readonly db_path="${data_dir}/ferry.db"
readonly artifacts_dir="${data_dir}/artifacts"
readonly log_path="${data_dir}/server.log"
readonly serve_log_path="${data_dir}/serve.log"
readonly serving_cache="${data_dir}/serving-cache"
readonly experiment="${QUICKSTART_EXPERIMENT:-quickstart}"
readonly model_name="${QUICKSTART_MODEL:-quickstart-credit}"
readonly model_card="${data_dir}/model-card.html"
export MLFLOW_DISABLE_TELEMETRY=true DO_NOT_TRACK=true

venv="$("${repo_root}/scripts/venv.sh" mlflow3 "${repo_root}/tests/compat/requirements-mlflow3.txt")"
py="${venv}/bin/python"
free_port() { "${py}" -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1", 0)); print(s.getsockname()[1])'; }
port="${PORT:-$(free_port)}"
readonly url="http://127.0.0.1:${port}"

server_flags=(server --host 127.0.0.1 --port "${port}"
  --backend-store-uri "sqlite:///${db_path}" --artifacts-destination "${artifacts_dir}")
case "${server_kind}" in
  ferry)
    if [[ ! -x "${ferry_bin}" ]]; then
      echo "quickstart: ${ferry_bin} not found; run scripts/setup.sh first (or set FERRY_BIN)" >&2
      exit 2
    fi
    server_cmd=("${ferry_bin}" "${server_flags[@]}")
    ;;
  mlflow) server_cmd=("${venv}/bin/mlflow" "${server_flags[@]}") ;;
  *) echo "quickstart: QUICKSTART_SERVER must be ferry or mlflow" >&2; exit 2 ;;
esac

mkdir -p "${artifacts_dir}"
echo "quickstart: starting ${server_kind} server on ${url} (log: ${log_path})"
# setsid: the server leads its own process group, so stopping it also stops
# any worker processes it forks (mlflow's uvicorn/gunicorn workers).
setsid "${server_cmd[@]}" >>"${log_path}" 2>&1 &
server_pid=$!
serve_pid=""
serve_it=0

# stop_pid <pid> <what>: SIGTERM, up to 30 s to exit, then SIGKILL its group.
stop_pid() {
  if [[ -n "$1" ]] && kill -0 "$1" 2>/dev/null; then
    kill -TERM "$1" 2>/dev/null || true
    for _ in $(seq 1 300); do
      kill -0 "$1" 2>/dev/null || break
      sleep 0.1
    done
    if kill -0 "$1" 2>/dev/null; then
      echo "quickstart: $2 did not exit within 30s of SIGTERM; killing it" >&2
      kill -KILL -- "-$1" 2>/dev/null || true
    fi
  fi
}
stop_servers() {
  stop_pid "${serve_pid}" "ferry serve"
  stop_pid "${server_pid}" "server"
}
trap stop_servers EXIT

# stop_cleanly <pid> <what> <log>: SIGTERM and expect exit code 0.
stop_cleanly() {
  local code
  kill -TERM "$1"
  set +e
  for _ in $(seq 1 300); do
    kill -0 "$1" 2>/dev/null || break
    sleep 0.1
  done
  if kill -0 "$1" 2>/dev/null; then
    echo "quickstart: $2 still running 30s after SIGTERM; see $3" >&2
    exit 1
  fi
  wait "$1"
  code=$?
  set -e
  if [[ ${code} -ne 0 ]]; then
    echo "quickstart: $2 exited with code ${code} (expected 0); see $3" >&2
    tail -n 30 "$3" >&2
    exit 1
  fi
  echo "quickstart: $2 exited cleanly"
}

for _ in $(seq 1 600); do
  if ! kill -0 "${server_pid}" 2>/dev/null; then
    echo "quickstart: server exited during start-up:" >&2
    tail -n 30 "${log_path}" >&2
    exit 1
  fi
  if [[ "$(curl -fsS "${url}/health" 2>/dev/null || true)" == "OK" ]]; then
    break
  fi
  sleep 0.1
done
curl -fsS "${url}/health" >/dev/null || { echo "quickstart: server not healthy after 60s" >&2; exit 1; }
echo "quickstart: server healthy"

# train [train.py args...]: runs train.py against the server, sets ${run_id}.
train() {
  local log
  log="$(mktemp)"
  MLFLOW_TRACKING_URI="${url}" "${py}" "${here}/train.py" --experiment-name "${experiment}" "$@" \
    2>&1 | tee "${log}"
  run_id="$(sed -n 's/^run_id: //p' "${log}" | tail -n 1)"
  rm -f "${log}"
  if [[ -z "${run_id}" ]]; then
    echo "quickstart: train.py did not report a run id" >&2
    exit 1
  fi
}

promote_py() { MLFLOW_TRACKING_URI="${url}" "${py}" "${here}/promote.py" "$@"; }
ferry_cli() { "${ferry_bin}" "$@" --tracking-uri "${url}"; }

# register <run_id>: registers runs:/<run_id>/model as a new version of
# ${model_name}, sets ${version}.
register() {
  local out
  out="$(promote_py register --run-id "$1" --name "${model_name}" 2>&1)" || {
    echo "${out}" >&2
    exit 1
  }
  echo "${out}" | grep -v '^version: '
  version="$(echo "${out}" | sed -n 's/^version: //p' | tail -n 1)"
}

train "$@"
baseline_run_id="${run_id}"

echo
echo "quickstart: model registry and promotion gates"
# The check exits 4 when the server has no registry (e.g. an old binary).
registry_rc=0
registry_check="$(promote_py check)" || registry_rc=$?
if [[ ${registry_rc} -eq 4 ]]; then
  echo "quickstart: registry not available on this server (${registry_check}); skipping registration, promotion, lineage and model card"
  rm -f "${model_card}"
else
  register "${baseline_run_id}"
  champion_version="${version}"
  if [[ "${server_kind}" != "ferry" || ${registry_rc} -ne 0 ]]; then
    echo "quickstart: Ferry's governance API is not available here (${registry_check:-${server_kind} server}); promoting without gates"
    rm -f "${model_card}"
    promote_py promote --name "${model_name}" --version "${champion_version}" --alias champion
  else
    echo "quickstart: promotion policy for ${model_name}:"
    ferry_cli models policy set "${model_name}" --protect-alias champion \
      --condition "test_auc >= 0.95" --condition "test_auc >= champion.test_auc - 0.005" \
      --approvals 1
    promote_py approve --name "${model_name}" --version "${champion_version}" \
      --target alias:champion --user alice --comment "baseline: test AUC reviewed"
    promote_py promote --name "${model_name}" --version "${champion_version}" --alias champion

    echo
    echo "quickstart: training a deliberately worse model (train.py --worse)"
    train --worse
    register "${run_id}"
    worse_version="${version}"
    set +e
    promote_py promote --name "${model_name}" --version "${worse_version}" --alias champion
    promote_rc=$?
    set -e
    if [[ ${promote_rc} -ne 3 ]]; then
      echo "quickstart: expected the gates to refuse version ${worse_version} (promote.py exit ${promote_rc})" >&2
      exit 1
    fi
    echo "quickstart: ${model_name}@champion is still version ${champion_version}"

    echo
    echo "quickstart: lineage of models:/${model_name}@champion"
    ferry_cli lineage "models:/${model_name}@champion"
    echo
    ferry_cli models card "${model_name}" "${champion_version}" --format html --output "${model_card}"
    echo "quickstart: model card: ${model_card}"
    echo
    echo "quickstart: audit trail of ${model_name}:"
    ferry_cli audit log --object "${model_name}"
    ferry_cli audit verify

    echo
    echo "quickstart: version ${worse_version} becomes @challenger (only @champion is gated)"
    promote_py promote --name "${model_name}" --version "${worse_version}" --alias challenger
    serve_it=1
  fi
fi
run_id="${baseline_run_id}"

echo
if [[ ${serve_it} -ne 1 ]]; then
  echo "quickstart: skipping the serving step (\`ferry serve\` is shown after Ferry's governance steps, which did not run on this ${server_kind} server)"
else
  serve_port="${SERVE_PORT:-$(free_port)}"
  readonly serve_url="http://127.0.0.1:${serve_port}"
  serve_cmd=("${ferry_bin}" serve --model "credit=models:/${model_name}@champion"
    --traffic "credit=@champion:90,@challenger:10" --tracking-uri "${url}"
    --http-port "${serve_port}" --grpc-port -1 --cache-dir "${serving_cache}"
    --poll-interval-ms 1000)
  echo "quickstart: serving models:/${model_name}@champion as 'credit' on ${serve_url}, 10% of requests to @challenger (log: ${serve_log_path})"
  echo "  ${serve_cmd[*]}"
  setsid "${serve_cmd[@]}" >>"${serve_log_path}" 2>&1 &
  serve_pid=$!
  ready=0
  for _ in $(seq 1 600); do
    if ! kill -0 "${serve_pid}" 2>/dev/null; then
      echo "quickstart: ferry serve exited during start-up:" >&2
      tail -n 30 "${serve_log_path}" >&2
      exit 1
    fi
    if [[ "$(curl -s -o /dev/null -w '%{http_code}' "${serve_url}/v2/health/ready" 2>/dev/null || true)" == "200" ]]; then
      ready=1
      break
    fi
    sleep 0.1
  done
  if [[ ${ready} -ne 1 ]]; then
    echo "quickstart: ferry serve not ready after 60s:" >&2
    tail -n 30 "${serve_log_path}" >&2
    exit 1
  fi
  echo "quickstart: ferry serve is ready"
  echo
  "${py}" "${here}/query.py" --url "${serve_url}" --model credit --requests 200 || {
    echo "quickstart: query.py failed; ferry serve log:" >&2
    tail -n 30 "${serve_log_path}" >&2
    exit 1
  }
  echo
  echo "quickstart: stopping ferry serve (SIGTERM)"
  stop_cleanly "${serve_pid}" "ferry serve" "${serve_log_path}"
  serve_pid=""
fi

echo
echo "quickstart: what the server recorded for experiment '${experiment}':"
if [[ "${server_kind}" == "ferry" ]]; then
  "${ferry_bin}" runs search --experiment-name "${experiment}" --tracking-uri "${url}"
fi
if [[ "${server_kind}" == "mlflow" ]]; then
  exp_id="$(MLFLOW_TRACKING_URI="${url}" "${py}" -c \
    "import mlflow; print(mlflow.get_experiment_by_name('${experiment}').experiment_id)")"
  MLFLOW_TRACKING_URI="${url}" "${venv}/bin/mlflow" runs list --experiment-id "${exp_id}"
fi

echo
echo "quickstart: stopping the server (SIGTERM)"
stop_cleanly "${server_pid}" "server" "${log_path}"
trap - EXIT

card_line=""
if [[ -f "${model_card}" ]]; then
  card_line=$'\n'"  model card: ${model_card}"
fi
serve_log_line="" serve_lines=""
if [[ ${serve_it} -eq 1 ]]; then
  serve_log_line=$'\n'"  serve log:  ${serve_log_path}"
  serve_lines="
With that server running, serve the champion (follows @champion as it moves) and query it:
  ${ferry_bin} serve --model credit=models:/${model_name}@champion --tracking-uri http://127.0.0.1:5000 --http-port 8080 --grpc-port -1 --cache-dir ${serving_cache}
  ${py} ${here}/query.py --url http://127.0.0.1:8080 --model credit"
fi
cat <<EOF

Run ${run_id} is recorded.
  database:   ${db_path}${card_line}
  artifacts:  ${artifacts_dir}
  server log: ${log_path}${serve_log_line}
  sqlite3 ${db_path} .tables        # look at the store directly
Serve it again and query it:
  ${server_cmd[0]} ${server_flags[0]} --host 127.0.0.1 --port 5000 --backend-store-uri sqlite:///${db_path} --artifacts-destination ${artifacts_dir}
  then point any MLflow client there (MLFLOW_TRACKING_URI=http://127.0.0.1:5000) or use
  ${ferry_bin} runs search|describe, ferry lineage, ferry audit log --tracking-uri http://127.0.0.1:5000${serve_lines}
EOF
