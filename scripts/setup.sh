#!/usr/bin/env bash
# Installs everything Vigil needs on Debian 12, idempotently (run as root):
# Debian packages, then the detector models (scripts/models/*.sh, each
# checksummed, fetched from Debian/npm at setup time, never at run time).
# Then configures and builds into ${VIGIL_BUILD_DIR:-build}.
set -euo pipefail

here="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)"
repo="$(cd "${here}/.." && pwd)"
build_dir="${VIGIL_BUILD_DIR:-${repo}/build}"

readonly PACKAGES=(
  # toolchain
  build-essential cmake ninja-build pkg-config ca-certificates
  # GStreamer 1.22: core, base, good/bad/ugly/libav plugins, RTSP server, stock OpenCV elements
  libgstreamer1.0-dev libgstreamer-plugins-base1.0-dev libgstrtspserver-1.0-dev
  gstreamer1.0-tools gstreamer1.0-plugins-base gstreamer1.0-plugins-good gstreamer1.0-plugins-bad
  gstreamer1.0-plugins-ugly gstreamer1.0-libav gstreamer1.0-rtsp gstreamer1.0-opencv
  # vision and codes
  libopencv-dev opencv-data libzxing-dev libzbar-dev libzint-dev
  fonts-dejavu-core
  # bus, config, CLI, logs, storage, HTTP, JSON, linear-time regex (notifier rules)
  libzmq3-dev cppzmq-dev libmsgpack-cxx-dev libyaml-cpp-dev libcli11-dev libspdlog-dev
  libsqlite3-dev sqlite3 libcpp-httplib-dev nlohmann-json3-dev libre2-dev
  # tests and benches
  libgtest-dev libgmock-dev python3 python3-zmq python3-msgpack clang
)

missing=()
for package in "${PACKAGES[@]}"; do
  dpkg-query -W -f='${Status}' "${package}" 2>/dev/null | grep -q "install ok installed" || missing+=("${package}")
done
# npm fetches the models; Debian's npm only when no node/npm is there already.
command -v npm >/dev/null 2>&1 || missing+=(npm)
if ((${#missing[@]})); then
  echo "setup: installing ${#missing[@]} Debian packages: ${missing[*]}"
  export DEBIAN_FRONTEND=noninteractive
  apt-get update -qq
  apt-get install -y -q --no-install-recommends "${missing[@]}"
else
  echo "setup: Debian packages already installed"
fi

for fetch in "${repo}"/scripts/models/*.sh; do
  [[ -e "${fetch}" ]] || continue
  bash "${fetch}"
done

# Configure once; afterwards Ninja re-runs CMake by itself when a CMakeLists changes.
if [[ ! -f "${build_dir}/build.ninja" ]]; then
  cmake -S "${repo}" -B "${build_dir}" -G Ninja -DCMAKE_BUILD_TYPE=RelWithDebInfo
fi
# Two cores, shared: keep the memory of parallel C++ compiles in check.
cmake --build "${build_dir}" -- -j"$(nproc)"
echo "setup: built into ${build_dir}"
