#!/usr/bin/env bash
# Usage: scripts/venv.sh NAME REQUIREMENTS_FILE
#
# Creates or updates the virtualenv <repo>/.venv-NAME from a requirements file
# pinned in the repo, and prints the venv's path on stdout (everything else
# goes to stderr) so callers can write `VENV=$(scripts/venv.sh mlflow3 ...)`.
#
# Idempotent: the sha256 of the requirements file plus the interpreter version
# is stored in the venv as .ferry-requirements.sha256. When it matches, nothing
# is installed. When it differs, the venv is rebuilt from scratch so that it
# never carries packages left over from an older pin set.
#
# Env: PYTHON  interpreter to build the venv with (default: python3 on PATH).
#      PIP_QUIET=0 to see pip's progress (default quiet).
set -euo pipefail

if [[ $# -ne 2 ]]; then
  echo "usage: $0 NAME REQUIREMENTS_FILE" >&2
  exit 2
fi

readonly repo_root="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
readonly name="$1"
readonly requirements="$(cd "$(dirname "$2")" && pwd)/$(basename "$2")"
readonly venv="${repo_root}/.venv-${name}"
readonly stamp="${venv}/.ferry-requirements.sha256"
readonly python="${PYTHON:-python3}"

if [[ ! -f "${requirements}" ]]; then
  echo "venv.sh: no such requirements file: ${requirements}" >&2
  exit 2
fi
if ! command -v "${python}" >/dev/null; then
  echo "venv.sh: interpreter '${python}' not found (set PYTHON)" >&2
  exit 2
fi

python_version="$("${python}" -c 'import sys; print(".".join(map(str, sys.version_info[:3])))')"
wanted="$( { sha256sum "${requirements}" | cut -d' ' -f1; echo "python ${python_version}"; } | sha256sum | cut -d' ' -f1)"

if [[ -f "${stamp}" && "$(cat "${stamp}")" == "${wanted}" && -x "${venv}/bin/python" ]]; then
  echo "venv.sh: ${venv} is up to date" >&2
  echo "${venv}"
  exit 0
fi

echo "venv.sh: building ${venv} from ${requirements} (python ${python_version})" >&2
rm -rf "${venv}"
"${python}" -m venv "${venv}"

pip_flags=(--disable-pip-version-check --no-input)
if [[ "${PIP_QUIET:-1}" != "0" ]]; then
  pip_flags+=(--quiet)
fi
# Wheels only where possible: a source build of numpy/scipy on the shared
# 2-core machine would take most of an hour.
"${venv}/bin/python" -m pip install "${pip_flags[@]}" --prefer-binary -r "${requirements}" >&2

# The stamp is written last, so an interrupted install is redone next time.
"${venv}/bin/python" -m pip freeze --all >"${venv}/.ferry-freeze.txt"
echo "${wanted}" >"${stamp}"
echo "venv.sh: ${venv} ready" >&2
echo "${venv}"
