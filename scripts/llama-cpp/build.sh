#!/usr/bin/env bash
# Builds llama.cpp's reference tools (llama-perplexity, llama-bench, llama-quantize) from source, at a pinned
# version, into .cache/llama.cpp/ (never committed). The source is the copy of llama.cpp that PyPI's
# llama-cpp-python sdist carries under vendor/llama.cpp (PyPI is reachable where GitHub may not be); its sha256 is
# checked before anything is built.
#
#   scripts/llama-cpp/build.sh [native|avx2]      # default: native
#
# native: llama.cpp's own -march=native build (AVX-512 where the CPU has it).
# avx2:   capped to AVX2/FMA/F16C with AVX-512 off, to compare with `BENCH_ISA=avx2` on an AVX-512 machine.
# Prints the directory holding the binaries. Idempotent: a finished build is reused.
set -euo pipefail
ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/../.." && pwd)"
ISA="${1:-native}"
[[ "$ISA" == native || "$ISA" == avx2 ]] || { echo "usage: $0 [native|avx2]" >&2; exit 2; }

VERSION=0.3.36  # llama-cpp-python; its vendor/llama.cpp is the llama.cpp revision we compare against
SHA256=832db0699007f1be95a7e41ef12e88926b02ba836461e36a36372db2760c1a2e
CACHE="$ROOT/.cache/llama.cpp"
SRC="$CACHE/src-$VERSION"
BUILD="$CACHE/build-$VERSION-$ISA"
PY="${BENCH_PYTHON:-$ROOT/.cache/venv/bin/python}"
[[ -x "$PY" ]] || PY=python3
log() { printf '[llama.cpp] %s\n' "$*" >&2; }

if [[ ! -f "$SRC/CMakeLists.txt" ]]; then
  mkdir -p "$CACHE"
  tarball="$CACHE/llama_cpp_python-$VERSION.tar.gz"
  if [[ ! -f "$tarball" ]] || ! echo "$SHA256  $tarball" | sha256sum -c --status; then
    log "downloading the llama-cpp-python $VERSION sdist (PyPI)"
    "$PY" -m pip download --no-deps --no-binary :all: --disable-pip-version-check -q -d "$CACHE" \
      "llama-cpp-python==$VERSION"
  fi
  echo "$SHA256  $tarball" | sha256sum -c --status ||
    { echo "[llama.cpp] $tarball: sha256 differs from $SHA256" >&2; exit 1; }
  tmp="$(mktemp -d "$CACHE/.extract-XXXXXX")"
  tar -xzf "$tarball" -C "$tmp" "llama_cpp_python-$VERSION/vendor/llama.cpp"
  rm -rf "$SRC"
  mv "$tmp/llama_cpp_python-$VERSION/vendor/llama.cpp" "$SRC"
  rm -rf "$tmp"
fi

if [[ ! -x "$BUILD/bin/llama-perplexity" || ! -x "$BUILD/bin/llama-bench" || ! -x "$BUILD/bin/llama-quantize" ]]; then
  flags=(-DCMAKE_BUILD_TYPE=Release -DLLAMA_CURL=OFF -DLLAMA_BUILD_SERVER=OFF -DLLAMA_BUILD_TESTS=OFF
         -DLLAMA_BUILD_EXAMPLES=OFF -DGGML_CUDA=OFF -DGGML_OPENMP=ON -DBUILD_SHARED_LIBS=OFF)
  if [[ "$ISA" == avx2 ]]; then
    flags+=(-DGGML_NATIVE=OFF -DGGML_AVX=ON -DGGML_AVX2=ON -DGGML_FMA=ON -DGGML_F16C=ON -DGGML_AVX512=OFF
            -DGGML_AVX512_VNNI=OFF -DGGML_AVX512_BF16=OFF -DGGML_AVX_VNNI=OFF)
  else
    flags+=(-DGGML_NATIVE=ON)
  fi
  log "configuring $BUILD (${ISA})"
  cmake -S "$SRC" -B "$BUILD" "${flags[@]}" >/dev/null
  log "building llama-perplexity, llama-bench, llama-quantize ($(nproc) jobs)"
  cmake --build "$BUILD" -j"$(nproc)" --target llama-perplexity llama-bench llama-quantize >/dev/null
fi
echo "$BUILD/bin"
