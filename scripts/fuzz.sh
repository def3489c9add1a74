#!/usr/bin/env bash
# Fuzzes what crosses a trust boundary (tests/fuzz): builds the libFuzzer
# targets with clang, ASan and UBSan into ${VIGIL_FUZZ_BUILD_DIR:-build-fuzz}
# and runs each for SECONDS (default 10) from its committed corpus. A crash
# stops the script with libFuzzer's report; its input (crash-*) is written to
# the build directory: fix the bug, then add the input to
# tests/fuzz/corpus/TARGET/ so every CTest run replays it.
#   bash scripts/fuzz.sh            # a short run, as CI does
#   bash scripts/fuzz.sh 600        # a longer one
# The seed is fixed (VIGIL_FUZZ_SEED, default 1) so that a CI run explores
# the same inputs each time; set another to explore further.
set -euo pipefail
here="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)"
repo="$(cd "${here}/.." && pwd)"
seconds="${1:-10}"
seed="${VIGIL_FUZZ_SEED:-1}"
build_dir="${VIGIL_FUZZ_BUILD_DIR:-${repo}/build-fuzz}"
targets=(event_decoder gs1 pipeline_config notifier)
# Longest input per target: beyond what each reads in practice, YAML and
# engine runs only get slower, not more interesting.
declare -A max_len=([event_decoder]=65536 [gs1]=4096 [pipeline_config]=8192 [notifier]=16384)

if ! command -v clang++ >/dev/null 2>&1; then
  echo "fuzz: installing clang"
  DEBIAN_FRONTEND=noninteractive apt-get install -y -q --no-install-recommends clang >/dev/null
fi
if [[ ! -f "${build_dir}/build.ninja" ]]; then
  CC=clang CXX=clang++ cmake -S "${repo}" -B "${build_dir}" -G Ninja -DCMAKE_BUILD_TYPE=RelWithDebInfo \
    -DVIGIL_FUZZ=ON -DVIGIL_BUILD_BENCH=OFF >/dev/null
fi
cmake --build "${build_dir}" --target fuzz_all -- -j"$(nproc)"

for target in "${targets[@]}"; do
  # A scratch copy of the corpus: what libFuzzer adds stays out of the repo.
  work="${build_dir}/fuzz-corpus/${target}"
  mkdir -p "${work}"
  cp -n "${repo}/tests/fuzz/corpus/${target}"/* "${work}/" 2>/dev/null || true
  log="${build_dir}/fuzz-${target}.log"
  (cd "${build_dir}" && "./tests/fuzz/fuzz_${target}" -max_total_time="${seconds}" -seed="${seed}" -rss_limit_mb=2048 \
      -max_len="${max_len[${target}]}" -print_final_stats=1 "${work}" >"${log}" 2>&1) || {
    cat "${log}" | tail -60
    echo "fuzz: ${target} CRASHED (input saved in ${build_dir})" >&2
    exit 1
  }
  runs="$(grep -o 'stat::number_of_executed_units: *[0-9]*' "${log}" | grep -o '[0-9]*$' || echo '?')"
  echo "fuzz: ${target}: ${runs} executions in ${seconds} s, no crash"
done
