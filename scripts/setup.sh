#!/usr/bin/env bash
# Installs what Ferry builds with and builds it. Idempotent: safe to re-run.
#
# Usage: scripts/setup.sh [--with-tests] [--with-venvs] [--no-build]
#   (default)     Debian packages (only the missing ones), then the `release` preset
#   --with-tests  also configure and build the `dev` preset (ASan + UBSan, tests)
#   --with-venvs  also create the Python venvs used by tests/compat, bench/ and
#                 examples/ (scripts/venv.sh; skipped when already up to date)
#   --no-build    packages (and venvs if asked) only
#
# Needs root, or sudo, for apt-get when a package is missing.
set -euo pipefail

readonly repo_root="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"

with_tests=0
with_venvs=0
build=1
for arg in "$@"; do
  case "${arg}" in
    --with-tests) with_tests=1 ;;
    --with-venvs) with_venvs=1 ;;
    --no-build) build=0 ;;
    -h|--help) sed -n '2,12p' "$0"; exit 0 ;;
    *) echo "setup.sh: unknown argument ${arg}" >&2; exit 2 ;;
  esac
done

readonly packages=(
  build-essential cmake ninja-build ccache pkg-config git
  libboost-dev libabsl-dev nlohmann-json3-dev libspdlog-dev libfmt-dev libcli11-dev
  libgtest-dev libgmock-dev libsqlite3-dev libssl-dev libzstd-dev sqlite3
  python3-venv clang-14 libclang-rt-14-dev clang-format curl
  libxgboost-dev libyaml-cpp-dev libsimdjson-dev libprotobuf-dev protobuf-compiler libgrpc++-dev
  protobuf-compiler-grpc wrk libb64-0d libjemalloc-dev
)

missing=()
for pkg in "${packages[@]}"; do
  if [[ "$(dpkg-query -W -f='${Status}' "${pkg}" 2>/dev/null || true)" != "install ok installed" ]]; then
    missing+=("${pkg}")
  fi
done

if [[ ${#missing[@]} -gt 0 ]]; then
  echo "setup.sh: installing ${missing[*]}"
  sudo_cmd=()
  if [[ "$(id -u)" -ne 0 ]]; then
    sudo_cmd=(sudo)
  fi
  "${sudo_cmd[@]}" apt-get update
  DEBIAN_FRONTEND=noninteractive "${sudo_cmd[@]}" apt-get install -y --no-install-recommends "${missing[@]}"
else
  echo "setup.sh: all ${#packages[@]} Debian packages present"
fi

if [[ ${with_venvs} -eq 1 ]]; then
  for version in mlflow3 mlflow2; do
    "${repo_root}/scripts/venv.sh" "${version}" "${repo_root}/tests/compat/requirements-${version}.txt" >/dev/null
  done
fi

if [[ ${build} -eq 1 ]]; then
  cd "${repo_root}"
  cmake --preset release
  cmake --build --preset release
  if [[ ${with_tests} -eq 1 ]]; then
    cmake --preset dev
    cmake --build --preset dev
  fi
fi
