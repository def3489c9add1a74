#!/usr/bin/env bash
# The demo from a fresh Debian 12 machine (run as root): installs what it
# needs, builds, then `vigil demo` generates a clip with faces, plates and
# codes, serves it over RTSP, runs the pipeline with both subscribers and
# prints a summary. Stops by itself.
set -euo pipefail
here="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)"
repo="$(cd "${here}/.." && pwd)"
build_dir="${VIGIL_BUILD_DIR:-${repo}/build}"

bash "${here}/setup.sh"
exec "${build_dir}/pipeline/vigil" demo "$@"
