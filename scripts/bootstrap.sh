#!/usr/bin/env bash
# strata's two set-up commands (README):
#   scripts/bootstrap.sh demo   installs what is missing, builds, runs examples/quickstart
#   scripts/bootstrap.sh test   installs what is missing, builds, runs the whole test suite
# Both are idempotent. Packages are installed with apt-get (as root, or through sudo).
# Environment: STRATA_BUILD_DIR (default build), STRATA_SANITIZE=1 to also run the suite
# under AddressSanitizer + UndefinedBehaviorSanitizer (build-asan).
set -euo pipefail

cd "$(dirname "$0")/.."
root=$(pwd)

packages=(
  meson ninja-build pkg-config g++ python3 cmake
  libabsl-dev libzstd-dev libxxhash-dev libre2-dev libfmt-dev
  libbenchmark-dev libgtest-dev libgmock-dev
  # Reference peers the tests compare against: promtool and the prometheus server.
  prometheus
  # libFuzzer targets (built when clang is present).
  clang libclang-rt-14-dev
)

install_missing() {
  local missing=()
  for p in "${packages[@]}"; do
    if ! dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q "install ok installed"; then
      missing+=("$p")
    fi
  done
  if [ ${#missing[@]} -eq 0 ]; then
    return
  fi
  echo "== installing: ${missing[*]}"
  local sudo=()
  if [ "$(id -u)" -ne 0 ]; then
    if command -v sudo >/dev/null; then
      sudo=(sudo)
    else
      echo "error: missing packages (${missing[*]}) and not root; run as root or install them" >&2
      exit 1
    fi
  fi
  "${sudo[@]}" apt-get update -qq
  DEBIAN_FRONTEND=noninteractive "${sudo[@]}" apt-get install -y -qq --no-install-recommends \
    "${missing[@]}" >/dev/null
}

jobs=$(nproc 2>/dev/null || echo 2)

configure() {
  local dir=$1
  shift
  if [ ! -f "$dir/build.ninja" ]; then
    meson setup "$dir" --wrap-mode=nodownload "$@"
  fi
}

summarize() {
  # One closing line for the whole run: "N passed, N failed, N skipped" over test cases.
  python3 "$root/scripts/test_summary.py" "$@"
}

case "${1:-}" in
  demo)
    install_missing
    dir=${STRATA_BUILD_DIR:-build-release}
    configure "$dir" --buildtype=release -Dtests=false -Dbenchmarks=false
    ninja -C "$dir" -j"$jobs" examples/quickstart/quickstart
    "$dir/examples/quickstart/quickstart"
    ;;
  test)
    install_missing
    dir=${STRATA_BUILD_DIR:-build}
    configure "$dir"
    ninja -C "$dir" -j"$jobs"
    status=0
    meson test -C "$dir" --num-processes "$jobs" --print-errorlogs || status=$?
    logs=("$dir/meson-logs/testlog.junit.xml")
    if [ "${STRATA_SANITIZE:-0}" = 1 ]; then
      asan=${dir}-asan
      # -O0: instrumented -O2 compiles ~7x slower (170 s vs 24 s of CPU for promql/engine.cc)
      # and the suite's run time under ASan is small either way.
      configure "$asan" --buildtype=debug -Db_sanitize=address,undefined -Db_lundef=false \
        -Dbenchmarks=false -Dexamples=false
      ninja -C "$asan" -j"$jobs"
      meson test -C "$asan" --num-processes "$jobs" --print-errorlogs || status=$?
      logs+=("$asan/meson-logs/testlog.junit.xml")
    fi
    summarize "${logs[@]}" || status=$?
    exit $status
    ;;
  *)
    echo "usage: $0 demo|test" >&2
    exit 2
    ;;
esac
