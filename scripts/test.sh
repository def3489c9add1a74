#!/usr/bin/env bash
# The whole test suite from a fresh Debian 12 machine (run as root): installs
# what it needs, builds, runs every CTest. .ci/run calls exactly this.
set -euo pipefail
here="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)"
repo="$(cd "${here}/.." && pwd)"
build_dir="${VIGIL_BUILD_DIR:-${repo}/build}"

bash "${here}/setup.sh"
cd "${build_dir}"
ctest --output-on-failure --timeout 600 -j2 "$@"
# A short libFuzzer run over every fuzz target (clang, ASan, UBSan), when the
# whole suite was asked for.
if (($# == 0)); then
  bash "${here}/fuzz.sh" 10
fi
